"""The multipart half of ``record.files.transfers``: start, parts, commit.

A multipart upload gets its file instance when it is announced: allocated
at full size on storage that takes the parts through the application, or
an upload opened at the storage (S3) that takes them directly, at presigned
URLs. Committing checks that every part is in and the checksum, then
completes the file; a direct upload is assembled by the storage and
checksummed by a worker (:func:`invenio_records_files_ext.jobs.verify`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance

from .. import ledger, transfers
from ..checksums import verify_announced
from ..errors import TransferStateError
from ..hashing import parse_content_md5, rehash_file
from ..keys import validate_key
from ..steps import step
from ..transfers import MULTIPART, VERIFYING, WAITING
from ..transfers.parts import PartLayout, PartsStorage
from .pending import PendingWriter
from .pending_rows import PendingFile


@dataclass(frozen=True)
class Committed:
    """What committing a file gave."""

    file: Any
    """The completed file (``file_cls``), or ``None`` while it is verified."""

    pending: Optional[PendingFile]
    """The pending file, while a worker verifies its bytes."""


def check_type(found: PendingFile, kind: str, operation: str) -> None:
    """Refuse an operation meant for another transfer type."""
    if found.type != kind:
        raise TransferStateError(
            "The file {0!r} is a {1} transfer: {2} is for {3} transfers.".format(
                found.key, found.type, operation, kind
            )
        )


def check_checksum(found: PendingFile, checksums: Mapping[str, str]) -> None:
    """Refuse bytes whose checksums do not hold the announced one.

    :param checksums: algorithm -> hex digest of the bytes received.
    """
    verify_announced(found.checksum, checksums)


def parts_storage(found: PendingFile) -> PartsStorage:
    """Return the storage of a multipart upload, seen as taking parts."""
    fileinstance = db.session.get(FileInstance, found.file_id)
    return PartsStorage(fileinstance.storage())


class MultipartFlow:
    """Multipart uploads of one record's files (used by ``Transfers``)."""

    def __init__(self, owner: Any) -> None:
        """Work for a :class:`~invenio_records_files_ext.files.transfers.Transfers`."""
        self.owner = owner

    def start(self, writer: PendingWriter, request: transfers.TransferRequest) -> None:
        """Open the upload at the storage for an announced multipart file."""
        assert request.size is not None
        assert request.parts is not None and request.part_size is not None
        layout = PartLayout(request.size, request.parts, request.part_size)
        bucket = self.owner.bucket
        fileinstance = FileInstance(id=uuid.uuid4(), size=request.size)
        storage = fileinstance.storage(
            default_location=bucket.location.uri,
            default_storage_class=bucket.default_storage_class,
        )
        target = PartsStorage(storage)
        with step() as current:
            state = target.initialize(layout)
            current.undo(lambda: target.abort(layout, state))
            fileinstance.uri = target.uri
            fileinstance.storage_class = bucket.default_storage_class
            fileinstance.readable = False
            fileinstance.writable = True
            if not target.direct:
                # Allocated in storage: deleted again unless this commits.
                ledger.stage(fileinstance.id, storage)
            writer.set_instance(
                request.key, fileinstance, {"storage": state, "direct": target.direct}
            )

    def part_links(
        self, found: PendingFile, base_url: Optional[str] = None
    ) -> list[dict[str, Any]]:
        """Return where the parts go: presigned URLs, or ``<base_url>/content/<n>``."""
        if found.type != MULTIPART or found.file_id is None or found.state != WAITING:
            return []
        return parts_storage(found).part_links(
            PartLayout.from_json(found.details),
            dict(found.details.get("storage", {})),
            base_url,
        )

    def upload_part(
        self,
        key: str,
        number: int,
        stream: Any,
        size: Optional[int] = None,
        content_md5: Optional[str] = None,
    ) -> PendingFile:
        """Write part ``number`` in place (through the application), then note it.

        The part is written with no transaction open, by the multipart core
        (:func:`~invenio_records_files_ext.transfers.parts.write_part`: its
        length and Content-MD5 are checked as Files-REST's protocol checks
        them). A part whose upload fails must be sent again.
        """
        key = validate_key(key)
        found = self.owner.get(key)
        check_type(found, MULTIPART, "uploading a part")
        if found.state != WAITING or found.file_id is None:
            raise TransferStateError(
                "The upload of {0!r} takes no more parts (state {1!r}).".format(
                    key, found.state
                )
            )
        writer = self.owner._writer()
        layout = PartLayout.from_json(found.details)
        layout.check_length(number, size)
        if content_md5 is not None:
            parse_content_md5(content_md5)
        target = parts_storage(found)
        ledger.release_if_read_only()
        try:
            target.write_part(layout, number, stream, content_md5)
        except BaseException:
            with step():
                writer.forget_part(key, number)
            db.session.commit()
            raise
        with step():
            return writer.record_part(key, number)

    def commit(self, found: PendingFile) -> Committed:
        """Complete an upload whose parts are all in (see the module)."""
        if found.state == VERIFYING:
            return Committed(None, found)
        if found.state != WAITING or found.file_id is None:
            raise TransferStateError(
                "The upload of {0!r} cannot be committed (state {1!r}).".format(
                    found.key, found.state
                )
            )
        writer = self.owner._writer()
        layout = PartLayout.from_json(found.details)
        target = parts_storage(found)
        if target.direct:
            target.complete(layout, dict(found.details.get("storage", {})))
            with step():
                pending = writer.set_state(found.key, (WAITING,), VERIFYING)
                transfers.launch_after_commit(
                    transfers.VERIFY_JOB, self.owner.bucket.id, found.key
                )
            return Committed(None, pending)
        missing = layout.missing(found.details.get("received", []))
        if missing:
            raise TransferStateError(
                "Parts missing from the upload of {0!r}: {1}.".format(
                    found.key, ", ".join(map(str, missing[:20]))
                )
            )
        fileinstance = db.session.get(FileInstance, found.file_id)
        check_checksum(found, rehash_file(fileinstance, found.checksum))
        fileinstance.readable = True
        fileinstance.writable = False
        return Committed(self.owner.complete(found.key, fileinstance), None)


__all__ = (
    "Committed",
    "MultipartFlow",
    "check_checksum",
    "check_type",
    "parts_storage",
)
