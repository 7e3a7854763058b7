"""What a client announces, checked by schemas: :func:`parse_requests`.

One marshmallow schema for a file (:class:`FileRequestSchema`), whose
``transfer`` object is read by the schema of its type
(:class:`TransferTypeSchema`, a ``marshmallow-oneofschema`` over the
providers of :mod:`.registry`). Unknown fields are refused at both levels.
Errors keep one sentence per file, numbered from 0 as the list is: "File 3:
unknown field(s): description.".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields
from marshmallow_oneofschema.one_of_schema import OneOfSchema

from ..db.keys import validate_key
from ..errors import DuplicateFileKeyError, InvalidTransferError
from ..models import MAX_SIZE
from ..settings.current import current
from ..storage.checksums import SUPPORTED, parse_checksum
from . import registry
from .constants import LOCAL
from .registry import TransferRequest
from .requests import check_url

_UNKNOWN = "Unknown field."


class Size(fields.Field):
    """A whole number of bytes (or parts), from ``minimum`` to :data:`~invenio_records_files_ext.models.MAX_SIZE`."""

    def __init__(self, minimum: int = 0, **kwargs: Any) -> None:
        """Take whole numbers from ``minimum`` on."""
        super().__init__(allow_none=True, **kwargs)
        self.minimum = minimum

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not whole or not self.minimum <= value <= MAX_SIZE:
            raise ValidationError(
                "{0!r} must be a whole number from {1} to {2}.".format(
                    self.name, self.minimum, MAX_SIZE
                )
            )
        return value


def check_transfer_url(url: Any, setting: str) -> str:
    """Check a fetch or remote URL against the hosts of ``setting``.

    :raises marshmallow.ValidationError: refused (the message says why).
    """
    try:
        return check_url(url, current_app.config.get(setting), setting)
    except InvalidTransferError as error:
        raise ValidationError(error.message) from error


class TransferURL(fields.Field):
    """A fetch or remote URL, checked against the hosts of ``setting``.

    It loads as the URL written again from its checked parts: the one to
    store.
    """

    def __init__(self, setting: str, **kwargs: Any) -> None:
        """Check hosts against the configuration named ``setting``."""
        super().__init__(**kwargs)
        self.setting = setting

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return check_transfer_url(value, self.setting)


class TransferTypeSchema(OneOfSchema):
    """The ``transfer`` object: read by the schema of its ``type``."""

    type_field = "type"

    class Meta:
        """Refuse fields the type does not know."""

        unknown = RAISE

    @property
    def type_schemas(self) -> dict[str, Any]:  # type: ignore[override]  # a property over a class attribute
        """The schemas of the registered types."""
        return {kind: registry.provider(kind).schema for kind in registry.types()}


class FileRequestSchema(Schema):
    """One announced file (``key`` required; the others optional)."""

    class Meta:
        """Refuse fields a file does not have."""

        unknown = RAISE

    key = fields.Raw(required=True, error_messages={"required": "'key' is required."})
    size = Size(minimum=0)
    checksum = fields.Raw(allow_none=True)
    metadata = fields.Raw(allow_none=True)
    transfer = fields.Nested(TransferTypeSchema)
    storage_class = fields.Raw(allow_none=True)
    access = fields.Raw(allow_none=True)


def _fail(index: int, message: str) -> InvalidTransferError:
    return InvalidTransferError("File {0}: {1}".format(index, message))


def _unknown(messages: Mapping[str, Any]) -> list[str]:
    return sorted(
        str(name) for name, errors in messages.items() if errors == [_UNKNOWN]
    )


def _first(messages: Any) -> str:
    """Return the first message of marshmallow's nested messages."""
    if isinstance(messages, Mapping):
        return _first(next(iter(messages.values())))
    if isinstance(messages, list):
        return _first(messages[0])
    return str(messages)


def _explain(kind: str, messages: Mapping[str, Any]) -> str:
    """Say what is wrong with a file, in this package's words."""
    unknown = _unknown(messages)
    if unknown:
        return "unknown field(s): {0}.".format(", ".join(unknown))
    transfer = messages.get("transfer")
    if isinstance(transfer, Mapping):
        unknown = _unknown(transfer)
        if unknown:
            return "unknown transfer field(s) for type {0}: {1}.".format(
                kind, ", ".join(unknown)
            )
        return _first(transfer)
    for name in ("key", "size", "checksum", "metadata"):
        if name in messages:
            return _first(messages[name])
    return _first(messages)


def _transfer_of(index: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``transfer`` object with its type, checked to be known and enabled."""
    transfer = data.get("transfer") or {}
    if not isinstance(transfer, Mapping):
        raise _fail(index, "'transfer' must be an object.")
    kind = transfer.get("type", LOCAL)
    known = registry.types()
    if not isinstance(kind, str) or kind not in known:
        raise _fail(
            index,
            "unknown transfer type {0!r} (one of {1}).".format(kind, ", ".join(known)),
        )
    enabled = current().transfers.types
    if kind not in enabled:
        raise _fail(index, "transfer type {0!r} is not enabled here.".format(kind))
    return dict(transfer, type=kind)


def _checksum(index: int, value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or parse_checksum(value) is None:
        raise _fail(
            index,
            "'checksum' must look like 'md5:<32 hex digits>' or "
            "'sha256:<64 hex digits>' (algorithms: {0}).".format(", ".join(SUPPORTED)),
        )
    return value.lower()


def _metadata(index: int, value: Any) -> dict[str, Any]:
    value = value or {}
    if not isinstance(value, Mapping):
        raise _fail(index, "'metadata' must be an object.")
    # Reserved names are refused where metadata is stored
    # (PendingWriter.announce), with the file's number too.
    return dict(value)


def parse_request(index: int, data: Any) -> TransferRequest:
    """Check one announced file; ``index`` numbers it in messages."""
    if not isinstance(data, Mapping):
        raise _fail(index, "each file must be an object with a 'key'.")
    transfer = _transfer_of(index, data)
    try:
        loaded = FileRequestSchema().load(dict(data, transfer=transfer))
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, Mapping) else {}
        raise _fail(index, _explain(transfer["type"], messages)) from error
    kind = transfer["type"]
    base = TransferRequest(
        key=validate_key(loaded["key"]),
        type=kind,
        size=loaded.get("size"),
        checksum=_checksum(index, loaded.get("checksum")),
        metadata=_metadata(index, loaded.get("metadata")),
    )
    try:
        return registry.provider(kind).request(base, dict(loaded.get("transfer") or {}))
    except InvalidTransferError as error:
        raise _fail(index, error.message) from error


def parse_requests(data: Any) -> list[TransferRequest]:
    """Check a list of announced files (the body of ``POST .../files``).

    :raises invenio_records_files_ext.errors.InvalidTransferError: the list
        or a file in it is wrong (the message says which and why).
    :raises invenio_records_files_ext.errors.DuplicateFileKeyError: a key
        is given twice.
    """
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list) or not data:
        raise InvalidTransferError(
            'Send a non-empty JSON list of files, such as [{"key": "data.csv"}].'
        )
    maximum = current().transfers.init_max_files
    if len(data) > maximum:
        raise InvalidTransferError(
            "At most {0} files can be announced at once "
            "(RECORDS_FILES_INIT_MAX_FILES).".format(maximum)
        )
    requests = [parse_request(index, item) for index, item in enumerate(data)]
    seen: set[str] = set()
    for request in requests:
        if request.key in seen:
            raise DuplicateFileKeyError(request.key)
        seen.add(request.key)
    return requests


__all__ = (
    "FileRequestSchema",
    "Size",
    "TransferTypeSchema",
    "TransferURL",
    "check_transfer_url",
    "parse_request",
    "parse_requests",
)
