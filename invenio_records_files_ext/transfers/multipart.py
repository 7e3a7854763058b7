"""Multipart transfers (``M``): the client uploads the bytes in parts.

Announced with ``{"type": "M", "parts": n, "part_size": ...}`` and the
file's ``size``, the upload gets its file instance at once: allocated at
full size on storage that takes the parts through the application
(``PUT .../content/<n>``, written by the multipart core,
:func:`~.parts.write_part`, as Files-REST's ``?uploads`` parts are), or an
upload opened at the storage (S3) that takes them directly, at presigned
URLs. Committing checks that every part is in and the checksum, then
completes the file; a direct upload is assembled by the storage and
checksummed by the ``verify`` job (:func:`invenio_records_files_ext.transfers.jobs.verify`)
before it completes.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance

from ..db import ledger
from ..db.keys import validate_key
from ..db.steps import step
from ..errors import InvalidTransferError, TransferStateError
from ..settings.current import current
from ..storage.hashing import parse_content_md5, rehash_file
from .constants import MULTIPART, VERIFY_JOB, VERIFYING, WAITING
from .launch import launch_after_commit
from .parts import PartLayout, PartsStorage
from .registry import (
    Committed,
    TransferProvider,
    TransferRequest,
    TransferSchema,
    check_checksum,
    check_type,
    register,
)
from .schema import Size


class MultipartSchema(TransferSchema):
    """``{"type": "M", "parts": n, "part_size": bytes}`` (``part_size`` optional)."""

    parts = Size(
        minimum=1,
        required=True,
        error_messages={"required": "a multipart transfer needs 'parts'."},
    )
    part_size = Size(minimum=1)


def parts_storage(found: Any) -> PartsStorage:
    """Return the storage of a multipart upload, seen as taking parts."""
    fileinstance = db.session.get(FileInstance, found.file_id)
    return PartsStorage(fileinstance.storage())


class MultipartTransfer(TransferProvider):
    """The client sends the bytes in parts, then commits."""

    name = MULTIPART
    schema = MultipartSchema
    job = VERIFY_JOB
    link_names = ("commit",)

    def request(
        self, base: TransferRequest, transfer: dict[str, Any]
    ) -> TransferRequest:
        """Add the layout, checked against the file's size."""
        if base.size is None:
            raise InvalidTransferError("a multipart transfer needs the file's 'size'.")
        parts = transfer["parts"]
        maximum = current().transfers.multipart_max_parts
        if parts > maximum:
            raise InvalidTransferError(
                "at most {0} parts (RECORDS_FILES_MULTIPART_MAX_PARTS).".format(maximum)
            )
        layout = PartLayout.checked(base.size, parts, transfer.get("part_size"))
        return TransferRequest(
            **{**base.__dict__, "parts": layout.parts, "part_size": layout.part_size}
        )

    def details(self, request: TransferRequest) -> dict[str, Any]:
        """Keep the layout."""
        return {
            "size": request.size,
            "parts": request.parts,
            "part_size": request.part_size,
        }

    def announce(self, owner: Any, writer: Any, request: TransferRequest) -> Any:
        """Open the upload at the storage for the announced file."""
        assert request.size is not None
        assert request.parts is not None and request.part_size is not None
        layout = PartLayout(request.size, request.parts, request.part_size)
        bucket = owner.bucket
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
        return None

    def status(self, found: Any) -> dict[str, Any]:
        """Show the layout in the entry's ``transfer``."""
        return {
            "parts": found.details.get("parts"),
            "part_size": found.details.get("part_size"),
        }

    def part_links(
        self, owner: Any, found: Any, base_url: Optional[str]
    ) -> list[dict[str, Any]]:
        """Return where the parts go: presigned URLs, or ``<base_url>/content/<n>``."""
        if found.file_id is None or found.state != WAITING:
            return []
        return parts_storage(found).part_links(
            PartLayout.from_json(found.details),
            dict(found.details.get("storage", {})),
            base_url,
        )

    def upload_part(
        self,
        owner: Any,
        key: str,
        number: int,
        stream: Any,
        size: Optional[int] = None,
        content_md5: Optional[str] = None,
    ) -> Any:
        """Write part ``number`` in place (through the application), then note it.

        The part is written with no transaction open, by the multipart core
        (:func:`~.parts.write_part`: its length and Content-MD5 are checked
        as Files-REST's protocol checks them). A part whose upload fails
        must be sent again.
        """
        key = validate_key(key)
        found = owner.get(key)
        check_type(found, MULTIPART, "uploading a part")
        if found.state != WAITING or found.file_id is None:
            raise TransferStateError(
                "The upload of {0!r} takes no more parts (state {1!r}).".format(
                    key, found.state
                )
            )
        writer = owner.writer()
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

    def commit(self, owner: Any, found: Any) -> Committed:
        """Complete an upload whose parts are all in (see the module)."""
        if found.state == VERIFYING:
            return Committed(None, found)
        if found.state != WAITING or found.file_id is None:
            raise TransferStateError(
                "The upload of {0!r} cannot be committed (state {1!r}).".format(
                    found.key, found.state
                )
            )
        writer = owner.writer()
        layout = PartLayout.from_json(found.details)
        target = parts_storage(found)
        if target.direct:
            target.complete(layout, dict(found.details.get("storage", {})))
            with step():
                pending = writer.set_state(found.key, (WAITING,), VERIFYING)
                launch_after_commit(VERIFY_JOB, owner.bucket.id, found.key)
            return Committed(None, pending)
        missing = layout.missing(found.details.get("received", []))
        if missing:
            raise TransferStateError(
                "Parts missing from the upload of {0!r}: {1}.".format(
                    found.key, ", ".join(map(str, missing[:20]))
                )
            )
        fileinstance = db.session.get(FileInstance, found.file_id)
        # The one way to checksum stored bytes (i23's checksums seam).
        check_checksum(found, rehash_file(fileinstance, found.checksum))
        fileinstance.readable = True
        fileinstance.writable = False
        return Committed(owner.complete(found.key, fileinstance), None)

    def abort(self, found: Any, session: Any) -> None:
        """Abort a direct upload at the storage once this commits."""
        if found.file_id is None:
            return
        fileinstance = session.get(FileInstance, found.file_id)
        if fileinstance is None or not fileinstance.uri:
            return
        target = PartsStorage(fileinstance.storage())
        if not target.direct:
            return
        layout = PartLayout.from_json(found.details)
        state = dict(found.details.get("storage", {}))

        def abort() -> None:
            target.abort(layout, state)

        ledger.call_after_commit(abort)


PROVIDER = register(MultipartTransfer())
"""The registered provider."""

__all__ = ("PROVIDER", "MultipartSchema", "MultipartTransfer", "parts_storage")
