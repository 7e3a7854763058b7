"""What a client announces, checked: :func:`parse_requests`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import current_app

from ..checksums import SUPPORTED, parse_checksum
from ..errors import (
    DuplicateFileKeyError,
    InvalidMetadataError,
    InvalidTransferError,
)
from ..files.entries import check_user_metadata_name
from ..keys import validate_key
from ..models import MAX_SIZE
from .addresses import check_transfer_url, host_allowed
from .constants import FETCH, LOCAL, MULTIPART, REMOTE, TYPES

_FIELDS = frozenset(
    ("key", "size", "checksum", "metadata", "transfer", "storage_class", "access")
)
_TRANSFER_FIELDS = {
    LOCAL: frozenset(("type",)),
    FETCH: frozenset(("type", "url")),
    REMOTE: frozenset(("type", "url")),
    MULTIPART: frozenset(("type", "parts", "part_size")),
}


@dataclass(frozen=True)
class TransferRequest:
    """One file announced by a client, checked."""

    key: str
    """The key, normalised (:func:`~invenio_records_files_ext.keys.validate_key`)."""

    type: str = LOCAL
    size: Optional[int] = None
    """Announced size in bytes (required for multipart)."""

    checksum: Optional[str] = None
    """Announced checksum, ``<algorithm>:<hex>`` (``md5:``, ``sha256:``...):
    the bytes must match it."""

    metadata: dict[str, Any] = field(default_factory=dict)
    """Per-file metadata stored with the file (checked when stored)."""

    url: Optional[str] = None
    """Source (fetch) or target (remote) URL."""

    parts: Optional[int] = None
    """Multipart: number of parts."""

    part_size: Optional[int] = None
    """Multipart: size of every part but the last."""


def _fail(index: int, message: str) -> InvalidTransferError:
    return InvalidTransferError("File {0}: {1}".format(index, message))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(index: int, data: Mapping[str, Any], name: str, minimum: int) -> Any:
    value = data.get(name)
    if value is None:
        return None
    if not _whole(value) or not minimum <= value <= MAX_SIZE:
        raise _fail(
            index,
            "{0!r} must be a whole number from {1} to {2}.".format(
                name, minimum, MAX_SIZE
            ),
        )
    return value


def check_url(url: Any, allowed: Any, setting: str) -> str:
    """Check a transfer URL and its host (:func:`~.addresses.check_transfer_url`).

    :returns: the URL written again from its checked parts: store this one.
    :raises invenio_records_files_ext.errors.InvalidTransferError: refused.
    """
    return check_transfer_url(url, allowed, setting).url


def _transfer(index: int, data: Mapping[str, Any]) -> dict[str, Any]:
    transfer = data.get("transfer") or {}
    if not isinstance(transfer, Mapping):
        raise _fail(index, "'transfer' must be an object.")
    kind = transfer.get("type", LOCAL)
    if kind not in TYPES:
        raise _fail(
            index,
            "unknown transfer type {0!r} (one of {1}).".format(kind, ", ".join(TYPES)),
        )
    enabled = current_app.config.get("RECORDS_FILES_TRANSFER_TYPES", TYPES)
    if kind not in enabled:
        raise _fail(index, "transfer type {0!r} is not enabled here.".format(kind))
    unknown = set(transfer) - _TRANSFER_FIELDS[kind]
    if unknown:
        raise _fail(
            index,
            "unknown transfer field(s) for type {0}: {1}.".format(
                kind, ", ".join(sorted(map(str, unknown)))
            ),
        )
    return dict(transfer, type=kind)


def _url(index: int, kind: str, transfer: Mapping[str, Any]) -> Optional[str]:
    if kind not in (FETCH, REMOTE):
        return None
    if "url" not in transfer:
        raise _fail(index, "a {0} transfer needs a 'url'.".format(kind))
    setting = (
        "RECORDS_FILES_FETCH_ALLOWED_HOSTS"
        if kind == FETCH
        else "RECORDS_FILES_REMOTE_ALLOWED_HOSTS"
    )
    try:
        return check_url(transfer["url"], current_app.config.get(setting), setting)
    except InvalidTransferError as error:
        raise _fail(index, error.message) from error


def _parts(index: int, request: TransferRequest, transfer: Mapping[str, Any]) -> Any:
    parts = _size(index, transfer, "parts", 1)
    if parts is None:
        raise _fail(index, "a multipart transfer needs 'parts'.")
    if request.size is None:
        raise _fail(index, "a multipart transfer needs the file's 'size'.")
    maximum = current_app.config.get("RECORDS_FILES_MULTIPART_MAX_PARTS", 10000)
    if parts > maximum:
        raise _fail(
            index,
            "at most {0} parts (RECORDS_FILES_MULTIPART_MAX_PARTS).".format(maximum),
        )
    part_size = _size(index, transfer, "part_size", 1)
    if part_size is None:
        part_size = max(1, -(-request.size // parts))
    if not (parts - 1) * part_size < max(request.size, 1) <= parts * part_size:
        raise _fail(
            index,
            "{0} parts of {1} bytes cannot hold {2} bytes (every part but the "
            "last is 'part_size' bytes long).".format(parts, part_size, request.size),
        )
    return parts, part_size


def parse_request(index: int, data: Any) -> TransferRequest:
    """Check one announced file; ``index`` numbers it in messages."""
    if not isinstance(data, Mapping):
        raise _fail(index, "each file must be an object with a 'key'.")
    unknown = set(data) - _FIELDS
    if unknown:
        raise _fail(
            index, "unknown field(s): {0}.".format(", ".join(sorted(map(str, unknown))))
        )
    if "key" not in data:
        raise _fail(index, "'key' is required.")
    key = validate_key(data["key"])
    checksum = data.get("checksum")
    if checksum is not None and (
        not isinstance(checksum, str) or parse_checksum(checksum) is None
    ):
        raise _fail(
            index,
            "'checksum' must look like 'md5:<32 hex digits>' or "
            "'sha256:<64 hex digits>' (algorithms: {0}).".format(", ".join(SUPPORTED)),
        )
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise _fail(index, "'metadata' must be an object.")
    for name in metadata:
        try:
            check_user_metadata_name(name)
        except InvalidMetadataError as error:
            raise _fail(index, error.message) from error
    transfer = _transfer(index, data)
    kind = transfer["type"]
    request = TransferRequest(
        key=key,
        type=kind,
        size=_size(index, data, "size", 0),
        checksum=checksum.lower() if checksum else None,
        metadata=dict(metadata),
        url=_url(index, kind, transfer),
    )
    if kind == MULTIPART:
        parts, part_size = _parts(index, request, transfer)
        request = TransferRequest(
            **{**request.__dict__, "parts": parts, "part_size": part_size}
        )
    return request


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
    maximum = current_app.config.get("RECORDS_FILES_INIT_MAX_FILES", 1000)
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
    "TransferRequest",
    "check_url",
    "host_allowed",
    "parse_request",
    "parse_requests",
)
