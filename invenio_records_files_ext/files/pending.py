"""The life cycle of pending files, in the database: the one place that changes it.

A pending file is announced (:meth:`PendingWriter.announce`), receives its
bytes (:meth:`~PendingWriter.receive`, :meth:`~PendingWriter.record_part`),
and ends completed (:meth:`~PendingWriter.complete`, through
:class:`~invenio_records_files_ext.files.writer.FilesWriter`), failed
(:meth:`~PendingWriter.fail`) or abandoned (:meth:`~PendingWriter.discard`).

Every change follows the writer's order: lock the keys, read, write, and
last charge the bucket. The bucket's size counts the bytes a pending upload
*reserves* (its announced size, or the size received), so that pending
uploads and completed files together never pass the quota; the reservation
becomes the file's size on completion and is given back otherwise.

Bytes are not written here: callers write them first, with no transaction
open, and hand over the file instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import Bucket, FileInstance
from invenio_files_rest.utils import guess_mimetype
from sqlalchemy.orm import Session

from ..db import locks, versions
from ..db.references import release
from ..db.sql import primary_key
from ..errors import (
    FileKeyExistsError,
    FileNotInRecordError,
    FilePendingError,
    InvalidMetadataError,
    InvalidTransferError,
    SizeMismatchError,
    TransferStateError,
)
from ..models import PENDING
from ..transfers import FAILED as FAILED_STATE
from ..transfers import WAITING, TransferRequest, provider
from . import pending_rows, queries, rows
from .entries import check_metadata, check_user_metadata_name
from .pending_rows import PendingFile
from .writer import Attached, FilesWriter


def _describe_state(found: PendingFile) -> str:
    return "{0!r} is a {1} transfer in state {2!r}".format(
        found.key, found.type, found.state
    )


class PendingWriter:
    """Changes the pending files of one bucket."""

    def __init__(self, bucket: Bucket, session: Optional[Session] = None) -> None:
        """Write into ``bucket`` through ``session`` (default: Invenio-DB's)."""
        self.bucket = bucket
        self.session = session if session is not None else db.session()

    @property
    def bucket_id(self) -> Any:
        """Id of the bucket written."""
        return primary_key(self.bucket)

    def _lock(self, keys: Sequence[str]) -> None:
        locks.lock_keys(self.bucket_id, keys, self.session)

    def get(self, key: str, states: Sequence[str] = ()) -> PendingFile:
        """Return the pending file ``key`` (the caller holds its lock).

        :raises KeyError: no pending file has this key.
        :raises invenio_records_files_ext.errors.TransferStateError: it is
            not in one of ``states`` (when given).
        """
        found = pending_rows.get(self.bucket_id, key, self.session)
        if found is None:
            raise FileNotInRecordError(key)
        if states and found.state not in states:
            raise TransferStateError(
                "The file {0}; this needs state {1}.".format(
                    _describe_state(found), " or ".join(repr(s) for s in states)
                )
            )
        return found

    def announce(self, requests: Sequence[TransferRequest]) -> list[str]:
        """Announce files: a pending row and transfer for each (but remote ones).

        Every key must be free: a completed or pending file, or an object
        version of the bucket, under the key refuses the whole list. Remote
        files are only checked here; the caller attaches them at once.

        :returns: the keys of the pending files created.
        """
        session = self.session
        keys = [request.key for request in requests]
        self._lock(keys)
        stored = queries.stored_entries(self.bucket_id, keys, session)
        heads = versions.heads(self.bucket_id, keys, session)
        for index, request in enumerate(requests):
            for name in request.metadata:
                try:
                    check_user_metadata_name(name)
                except InvalidMetadataError as error:
                    raise InvalidTransferError(
                        "File {0}: {1}".format(index, error.message)
                    ) from error
            existing = stored.get(request.key)
            if existing is not None and existing.status == PENDING:
                raise FilePendingError(request.key)
            if existing is not None or request.key in heads:
                raise FileKeyExistsError(request.key)
            for name, value in request.metadata.items():
                check_metadata(name, value)
        pending = [request for request in requests if provider(request.type).pending]
        position = queries.next_position(self.bucket_id, session)
        new_rows, transfers = [], []
        for offset, request in enumerate(pending):
            row = rows.new_row(
                self.bucket_id,
                request.key,
                position + offset,
                size=request.size,
                mimetype=guess_mimetype(request.key),
                metadata=request.metadata,
                status=PENDING,
            )
            new_rows.append(row)
            kind = provider(request.type)
            transfers.append(
                dict(
                    entry_id=row["id"],
                    type=request.type,
                    state=kind.initial_state,
                    size=request.size,
                    checksum=request.checksum,
                    reserved=request.size or 0,
                    json=kind.details(request),
                )
            )
        rows.insert_many(new_rows, session)
        pending_rows.insert_many(transfers, session)
        sizes = [request.size or 0 for request in requests]
        reserved = sum(request.size or 0 for request in pending)
        locks.charge(self.bucket, reserved, largest=max(sizes or [0]), session=session)
        return [request.key for request in pending]

    def set_instance(
        self, key: str, fileinstance: FileInstance, details: dict[str, Any]
    ) -> None:
        """Give a pending multipart upload its (new, empty) file instance."""
        self._lock([key])
        found = self.get(key, (WAITING,))
        versions.insert_file_instance(fileinstance, self.session)
        pending_rows.change(
            found.entry_id,
            self.session,
            file_id=fileinstance.id,
            json=dict(found.details, **details),
        )

    def receive(
        self,
        key: str,
        fileinstance: FileInstance,
        states: Sequence[str],
        new_state: str,
    ) -> PendingFile:
        """Record the bytes of a pending file (written by the caller).

        Bytes received before (a local upload sent again) are released.

        :raises invenio_records_files_ext.errors.SizeMismatchError: the
            bytes do not have the announced size.
        """
        session = self.session
        self._lock([key])
        found = self.get(key, states)
        size = int(fileinstance.size or 0)
        if found.size is not None and size != found.size:
            raise SizeMismatchError(found.size, size)
        versions.insert_file_instance(fileinstance, session)
        pending_rows.change(
            found.entry_id,
            session,
            file_id=fileinstance.id,
            state=new_state,
            reserved=size,
            error=None,
        )
        rows.set_size(found.entry_id, size, session)
        self._release(found.file_id, keep=fileinstance.id)
        locks.charge(self.bucket, size - found.reserved, largest=size, session=session)
        return self.get(key)

    def record_part(self, key: str, number: int) -> PendingFile:
        """Note that part ``number`` of a multipart upload is in."""
        self._lock([key])
        found = self.get(key, (WAITING,))
        received = set(found.details.get("received", []))
        received.add(number)
        details = dict(found.details, received=sorted(received))
        updated = pending_rows.change(found.entry_id, self.session, json=details)
        locks.charge(self.bucket, 0, session=self.session)
        # The row as just written: no need to read it again.
        return replace(found, details=details, updated=updated)

    def forget_part(self, key: str, number: int) -> None:
        """Note that part ``number`` must be sent again (its upload failed)."""
        self._lock([key])
        found = pending_rows.get(self.bucket_id, key, self.session)
        if found is None or number not in found.details.get("received", []):
            return
        received = [part for part in found.details["received"] if part != number]
        pending_rows.change(
            found.entry_id, self.session, json=dict(found.details, received=received)
        )

    def set_state(
        self, key: str, states: Sequence[str], new_state: str, **values: Any
    ) -> PendingFile:
        """Move a pending file from one of ``states`` to ``new_state``."""
        self._lock([key])
        found = self.get(key, states)
        pending_rows.change(found.entry_id, self.session, state=new_state, **values)
        locks.charge(self.bucket, 0, allow_locked=True, session=self.session)
        return self.get(key)

    def complete(self, key: str, fileinstance: FileInstance) -> Attached:
        """Make a pending file a completed one; its transfer goes."""
        self._lock([key])
        found = self.get(key)
        pending_rows.delete_transfers([found.entry_id], self.session)
        return FilesWriter(self.bucket, self.session).attach(
            key,
            fileinstance,
            stored_instance=True,
            reserved=found.reserved,
            completing=True,
        )

    def fail(self, key: str, message: str) -> Optional[PendingFile]:
        """Mark a transfer failed: its bytes and reservation are given back.

        :returns: the file as it was, or ``None`` if it is no longer pending.
        """
        self._lock([key])
        found = pending_rows.get(self.bucket_id, key, self.session)
        if found is None:
            return None
        pending_rows.change(
            found.entry_id,
            self.session,
            state=FAILED_STATE,
            error=message,
            file_id=None,
            reserved=0,
        )
        self._release(found.file_id)
        locks.charge(
            self.bucket, -found.reserved, allow_locked=True, session=self.session
        )
        return found

    def discard(self, key: str) -> PendingFile:
        """Remove a pending file, its bytes and its reservation.

        :raises KeyError: no pending file has this key.
        """
        self._lock([key])
        found = self.get(key)
        pending_rows.delete_transfers([found.entry_id], self.session)
        rows.delete_rows([found.entry_id], self.session)
        self._release(found.file_id)
        locks.charge(
            self.bucket, -found.reserved, allow_locked=True, session=self.session
        )
        return found

    def _release(self, file_id: Any, keep: Any = None) -> None:
        if file_id is None or file_id == keep:
            return
        fileinstance = self.session.get(FileInstance, file_id)
        if fileinstance is not None:
            release(fileinstance, self.session)


def discard_bucket(bucket_id: Any, session: Session) -> list[PendingFile]:
    """Drop every transfer of a bucket being removed; return the pending files.

    Multipart uploads still open at the storage are aborted once the
    removal has committed. The caller removes the rows and file instances.
    """
    found = list(pending_rows.iterate(bucket_id, session))
    pending_rows.delete_transfers([item.entry_id for item in found], session)
    for item in found:
        abort_at_storage(item, session)
    return found


def abort_at_storage(found: PendingFile, session: Session) -> None:
    """Give up what the storage holds for a pending file, once this commits.

    Its transfer type says what (a direct multipart upload is aborted at
    the storage; the others hold nothing there).
    """
    provider(found.type).abort(found, session)


__all__ = ("PendingWriter", "abort_at_storage", "discard_bucket")
