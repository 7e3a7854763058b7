"""Local transfers (``L``): the client uploads the bytes, then commits.

``PUT .../content`` stores the bytes of the pending file
(:meth:`~invenio_records_files_ext.files.transfers.Transfers.set_content`);
``POST .../commit`` checks them against the announced checksum and
completes the file.
"""

from __future__ import annotations

from typing import Any

from invenio_db import db
from invenio_files_rest.models import FileInstance

from ..errors import TransferStateError
from ..storage.checksums import stored_checksums
from .constants import LOCAL, RECEIVED
from .registry import (
    Committed,
    TransferProvider,
    TransferSchema,
    check_checksum,
    register,
)


class LocalSchema(TransferSchema):
    """``{"type": "L"}``: nothing more."""


class LocalTransfer(TransferProvider):
    """The client sends the bytes through the application."""

    name = LOCAL
    schema = LocalSchema
    link_names = ("content", "commit")

    def commit(self, owner: Any, found: Any) -> Committed:
        """Complete the file once its bytes are in; their checksum is checked."""
        if found.state != RECEIVED:
            raise TransferStateError(
                "The bytes of {0!r} have not been uploaded yet (PUT .../content "
                "first).".format(found.key)
            )
        fileinstance = db.session.get(FileInstance, found.file_id)
        check_checksum(found, stored_checksums(fileinstance))
        return Committed(owner.complete(found.key, fileinstance), None)


PROVIDER = register(LocalTransfer())
"""The registered provider."""

__all__ = ("PROVIDER", "LocalSchema", "LocalTransfer")
