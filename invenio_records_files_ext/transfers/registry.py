"""Transfer types as providers, behind one registry.

Each transfer type (``L``, ``F``, ``R``, ``M``) is a :class:`TransferProvider`
in a module of its own (:mod:`~invenio_records_files_ext.transfers.local`,
:mod:`~invenio_records_files_ext.transfers.fetch`,
:mod:`~invenio_records_files_ext.transfers.remote`,
:mod:`~invenio_records_files_ext.transfers.multipart`) holding everything that differs by type: the schema of
the ``transfer`` object a client announces, the checks across fields, the
state a pending file starts in and the details it keeps, what announcing,
committing and aborting do, what the file's entry shows, and the name of
its background job (run by :mod:`invenio_records_files_ext.transfers.jobs`). The rest of the package asks the registry (:func:`provider`) instead of
testing the type: a new type is a new module and one :func:`register` call.

Providers work on an *owner*, the record's
:class:`~invenio_records_files_ext.files.transfers.Transfers`, through its
public methods only (``bucket``, ``get``, ``writer``, ``complete``,
``finish``, ``fail``, ``files``), so that this package's lower layer never
imports the files API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from marshmallow import RAISE, Schema

from ..errors import (
    ConfigurationError,
    TransferStateError,
)
from ..storage.checksums import verify_announced
from .constants import TYPES, WAITING


@dataclass(frozen=True)
class TransferRequest:
    """One file announced by a client, checked."""

    key: str
    """The key, normalised (:func:`~invenio_records_files_ext.db.keys.validate_key`)."""

    type: str = "L"
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


@dataclass(frozen=True)
class Committed:
    """What committing a file gave."""

    file: Any
    """The completed file (``file_cls``), or ``None`` while it is verified."""

    pending: Any
    """The pending file, while a worker verifies its bytes."""


class TransferSchema(Schema):
    """Base of the schemas of the ``transfer`` object (unknown fields refused)."""

    class Meta:
        """Refuse fields the type does not know."""

        unknown = RAISE


def check_type(found: Any, kind: str, operation: str) -> None:
    """Refuse an operation meant for another transfer type."""
    if found.type != kind:
        raise TransferStateError(
            "The file {0!r} is a {1} transfer: {2} is for {3} transfers.".format(
                found.key, found.type, operation, kind
            )
        )


def check_checksum(found: Any, checksums: Mapping[str, str]) -> None:
    """Refuse bytes whose checksums do not hold the announced one.

    :param checksums: algorithm -> hex digest of the bytes received.
    """
    verify_announced(found.checksum, checksums)


class TransferProvider:
    """One transfer type: what differs from one type to the next.

    The defaults fit a type whose bytes the client sends in one request
    (every method may be overridden).
    """

    name: ClassVar[str] = ""
    """The type's name in the API (``transfer.type``)."""

    schema: ClassVar[Any] = TransferSchema
    """Schema of the ``transfer`` object, without its ``type``."""

    initial_state: ClassVar[Optional[str]] = WAITING
    """State a pending file of this type starts in; ``None``: no pending file
    (the file is completed as it is announced)."""

    job: ClassVar[Optional[str]] = None
    """Name of the background job of this type (:mod:`invenio_records_files_ext.transfers.jobs`), if any."""

    link_names: ClassVar[tuple[str, ...]] = ()
    """Links of a pending entry besides ``self`` (``content``, ``commit``)."""

    @property
    def pending(self) -> bool:
        """Whether announced files of this type are pending until completed."""
        return self.initial_state is not None

    # Announcing
    def request(
        self, base: TransferRequest, transfer: dict[str, Any]
    ) -> TransferRequest:
        """Return the request with what the ``transfer`` object adds (checked).

        :raises invenio_records_files_ext.errors.InvalidTransferError: the
            fields do not fit together (without the "File n:" prefix).
        """
        return base

    def details(self, request: TransferRequest) -> dict[str, Any]:
        """Return what the pending file keeps in its transfer's details."""
        return {}

    def announce(self, owner: Any, writer: Any, request: TransferRequest) -> Any:
        """Do this type's part of an announce, in its step; return a completed file or ``None``."""
        return None

    # Receiving and committing
    def commit(self, owner: Any, found: Any) -> Committed:
        """Complete a pending file of this type (``POST .../commit``)."""
        raise TransferStateError(
            "The file {0!r} is a {1} transfer, which cannot be committed "
            "(state {2!r}).".format(found.key, found.type, found.state)
        )

    def part_links(
        self, owner: Any, found: Any, base_url: Optional[str]
    ) -> list[dict[str, Any]]:
        """Return where the parts of a pending file go (multipart only)."""
        return []

    def abort(self, found: Any, session: Any) -> None:
        """Give up what the storage holds for a pending file, once this commits."""

    # Showing
    def status(self, found: Any) -> dict[str, Any]:
        """Return the members this type adds to an entry's ``transfer``."""
        return {}


_PROVIDERS: dict[str, TransferProvider] = {}


def register(provider: TransferProvider) -> TransferProvider:
    """Make ``provider`` the one of its type; return it."""
    _PROVIDERS[provider.name] = provider
    return provider


def provider(kind: str) -> TransferProvider:
    """Return the provider of the transfer type ``kind``.

    :raises KeyError: no such type.
    """
    return _PROVIDERS[kind]


def types() -> tuple[str, ...]:
    """Return the registered types: this package's in their order (``TYPES``), then others."""
    ours = [kind for kind in TYPES if kind in _PROVIDERS]
    return tuple(ours + [kind for kind in _PROVIDERS if kind not in TYPES])


def for_job(job: str) -> TransferProvider:
    """Return the provider whose background job is ``job``.

    :raises invenio_records_files_ext.errors.ConfigurationError: none.
    """
    for found in _PROVIDERS.values():
        if found.job == job:
            return found
    raise ConfigurationError("Unknown transfer job {0!r}.".format(job))


__all__ = (
    "Committed",
    "TransferProvider",
    "TransferRequest",
    "TransferSchema",
    "check_checksum",
    "check_type",
    "for_job",
    "provider",
    "register",
    "types",
)
