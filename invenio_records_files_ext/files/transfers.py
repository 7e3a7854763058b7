"""``record.files.transfers``: announce files, send their bytes, commit them.

The three-step upload of InvenioRDM, on any record of this library::

    files = record.files
    files.transfers.init([{"key": "data.csv", "size": 12, "checksum": "md5:..."}])
    files.transfers.set_content("data.csv", stream)
    files.transfers.commit("data.csv")     # now record.files["data.csv"]

and the other transfer types (fetch, remote, multipart: see
:mod:`invenio_records_files_ext.transfers`). Pending files are not files of
the record: ``record.files`` and ``record["_files"]`` show completed files
only; :meth:`Transfers.get` and :meth:`Transfers.pending` show the others.

Bytes are written before any database work, so a slow client holds no
lock; each change is a step (all or nothing) that also sends the hooks.
Work that must wait for the commit (a fetch) is handed to the launcher set
with :func:`invenio_records_files_ext.transfers.set_launcher` (the Flask
extension sets the Celery one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional, Union

from invenio_db import db
from invenio_files_rest.models import FileInstance

from .. import transfers
from ..db.keys import validate_key
from ..db.steps import step
from ..errors import FileNotInRecordError, SizeMismatchError
from ..storage.checksums import announced_algorithms
from ..storage.writes import UploadTarget, discard, stage_file
from ..transfers import LOCAL, MULTIPART, RECEIVED, WAITING, Committed, provider
from ..transfers.registry import check_type
from . import pending_rows
from .pending import PendingWriter, abort_at_storage
from .pending_rows import PendingFile


class Transfers:
    """The pending files of one record's bucket."""

    def __init__(self, files: Any) -> None:
        """Bind to a record's files (a ``FilesIterator``)."""
        self.files = files

    @property
    def bucket(self) -> Any:
        """The record's bucket."""
        return self.files.bucket

    def writer(self) -> PendingWriter:
        """Return the writer of the pending files (refused if the files are not writable)."""
        self.files.writable_bucket()
        return PendingWriter(self.bucket)

    _writer = writer

    #
    # Reading
    #
    def get(self, key: str) -> PendingFile:
        """Return the pending file ``key``; :class:`KeyError` if none."""
        found = pending_rows.get(self.bucket.id, validate_key(key))
        if found is None:
            raise FileNotInRecordError(key)
        return found

    def part_links(
        self, found: PendingFile, base_url: Optional[str] = None
    ) -> list[dict[str, Any]]:
        """Return where the parts of a multipart upload go (one URL per part).

        Direct uploads (S3) get presigned URLs; others get
        ``<base_url>/content/<n>``.
        """
        return provider(found.type).part_links(self, found, base_url)

    def upload_part(
        self,
        key: str,
        number: int,
        stream: Any,
        size: Optional[int] = None,
        content_md5: Optional[str] = None,
    ) -> PendingFile:
        """Write part ``number`` of a multipart upload that goes through the app."""
        return provider(MULTIPART).upload_part(  # type: ignore[attr-defined,no-any-return]  # the multipart provider's own method
            self, key, number, stream, size, content_md5
        )

    def pending(self) -> Iterator[PendingFile]:
        """Yield the pending files in the record's order, chunk by chunk."""
        return pending_rows.iterate(self.bucket.id)

    def __len__(self) -> int:
        """Return the number of pending files."""
        return pending_rows.count(self.bucket.id)

    #
    # Announcing
    #
    def init(self, data: Any) -> list[Union[PendingFile, Any]]:
        """Announce files (the body of ``POST .../files``); all or nothing.

        Remote files are completed at once; the others are pending. Fetches
        start once the transaction commits.

        :returns: for each file, the pending file, or the completed file of
            a remote one.
        :raises invenio_records_files_ext.errors.FilesNotEnabledError: the
            record's files are disabled.
        """
        requests = transfers.parse_requests(data)
        writer = self.writer()
        results: dict[str, Any] = {}
        with step():
            writer.announce(requests)
            for request in requests:
                done = provider(request.type).announce(self, writer, request)
                if done is not None:
                    results[request.key] = done
        waiting = [request.key for request in requests if request.key not in results]
        results.update(pending_rows.by_keys(self.bucket.id, waiting))
        self.files.changed()
        return [results[request.key] for request in requests]

    #
    # Local uploads
    #
    def set_content(
        self,
        key: str,
        stream: Any,
        size: Optional[int] = None,
        content_md5: Optional[str] = None,
        target: Optional[UploadTarget] = None,
    ) -> PendingFile:
        """Store the bytes of a pending local file (``PUT .../content``).

        Sending them again before the commit replaces them.

        :raises KeyError: no pending file has this key.
        :raises invenio_records_files_ext.errors.TransferStateError: the
            file is not a local transfer waiting for its bytes.
        :raises invenio_records_files_ext.errors.SizeMismatchError: the
            size differs from the announced one.
        """
        key = validate_key(key)
        found = self.get(key)
        check_type(found, LOCAL, "PUT .../content")
        if target is None:
            target = UploadTarget.of(self.files.writable_bucket())
        expected = found.size if found.size is not None else size
        if found.size is not None and size is not None and size != found.size:
            raise SizeMismatchError(found.size, size)
        fileinstance = stage_file(
            target,
            stream,
            size=expected,
            content_md5=content_md5,
            algorithms=announced_algorithms(found.checksum),
        )
        with step() as current:
            current.undo(lambda: discard(fileinstance.id))
            return self.writer().receive(
                key, fileinstance, (WAITING, RECEIVED), RECEIVED
            )

    def commit(self, key: str) -> Committed:
        """Complete a pending file once its bytes are all in (``POST .../commit``).

        The size and, when one was announced, the checksum are verified.
        Multipart uploads sent directly to the storage are verified by a
        worker (the file stays pending until then; ``Committed.file`` is
        ``None``). Committing a completed file again gives it back.

        :raises invenio_records_files_ext.errors.ChecksumMismatchError: the
            bytes do not match the announced checksum (nothing changes:
            send them again, or delete the file).
        """
        key = validate_key(key)
        found = pending_rows.get(self.bucket.id, key)
        if found is None:
            completed = self.files.get(key)
            if completed is None:
                raise FileNotInRecordError(key)
            return Committed(completed, None)
        return provider(found.type).commit(self, found)

    def complete(self, key: str, fileinstance: FileInstance) -> Any:
        """Make a pending file completed with these (checked) bytes; send the hooks."""
        with step():
            attached = self.writer().complete(key, fileinstance)
            return self.files.after_attach(attached)

    #
    # Work done by a worker (fetch, verification)
    #
    def begin(self, key: str, states: tuple[str, ...], new_state: str) -> PendingFile:
        """Move a pending file to ``new_state`` (a worker takes it on)."""
        with step():
            return PendingWriter(self.bucket).set_state(key, states, new_state)

    def finish(self, key: str, fileinstance: FileInstance, state: str) -> Any:
        """Complete a pending file with bytes a worker wrote (and checked).

        :param fileinstance: a new, transient file instance (a fetch), or
            the upload's own, already stored (a verified multipart upload).
        """
        with step():
            writer = self.writer()
            if fileinstance not in db.session:
                writer.receive(key, fileinstance, (state,), state)
            attached = writer.complete(key, fileinstance)
            return self.files.after_attach(attached)

    #
    # Ending otherwise
    #
    def fail(self, key: str, message: str) -> Optional[PendingFile]:
        """Mark a transfer failed; its bytes go once this commits."""
        with step():
            writer = PendingWriter(self.bucket)
            found = pending_rows.get(self.bucket.id, key)
            if found is not None:
                abort_at_storage(found, db.session())
            return writer.fail(key, message)

    def abort(self, key: str) -> PendingFile:
        """Delete a pending file, its bytes and its reservation.

        :raises KeyError: no pending file has this key.
        """
        key = validate_key(key)
        writer = self.writer()
        with step():
            found = writer.get(key)
            abort_at_storage(found, db.session())
            found = writer.discard(key)
        self.files.changed()
        return found


__all__ = ("Committed", "Transfers")
