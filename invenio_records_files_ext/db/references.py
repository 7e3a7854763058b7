"""Who uses a file instance: the one place that answers it.

Stored bytes may be shared: a new version of a record (``files.copy()``)
points its object versions at the same file instances. Bytes are deleted
only once nothing references them any more: no object version (of any
bucket), no multipart upload and no pending file's transfer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance, MultipartObject, ObjectVersion
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..models import REMOTE_STORAGE_CLASS, FileEntry, FileTransfer
from . import ledger
from .sql import chunks


def _session(session: Optional[Session]) -> Session:
    return session if session is not None else db.session()


def bucket_file_ids(bucket_id: Any, session: Optional[Session] = None) -> set[Any]:
    """Return the ids of the file instances a bucket uses (uploads included)."""
    objects = select(ObjectVersion.file_id).where(
        ObjectVersion.bucket_id == bucket_id, ObjectVersion.file_id.isnot(None)
    )
    uploads = select(MultipartObject.file_id).where(
        MultipartObject.bucket_id == bucket_id
    )
    transfers = (
        select(FileTransfer.file_id)
        .join(FileEntry, FileEntry.id == FileTransfer.entry_id)
        .where(FileEntry.bucket_id == bucket_id, FileTransfer.file_id.isnot(None))
    )
    return set(_session(session).execute(objects.union(uploads, transfers)).scalars())


def used_elsewhere(
    file_ids: Iterable[Any],
    bucket_id: Any = None,
    session: Optional[Session] = None,
) -> set[Any]:
    """Return which of these file instances are referenced.

    :param bucket_id: ignore references from this bucket (the one being
        removed); by default every reference counts.
    """
    session = _session(session)
    used: set[Any] = set()
    for chunk in chunks(list(file_ids)):
        objects = select(ObjectVersion.file_id).where(ObjectVersion.file_id.in_(chunk))
        uploads = select(MultipartObject.file_id).where(
            MultipartObject.file_id.in_(chunk)
        )
        transfers = select(FileTransfer.file_id).where(FileTransfer.file_id.in_(chunk))
        if bucket_id is not None:
            objects = objects.where(ObjectVersion.bucket_id != bucket_id)
            uploads = uploads.where(MultipartObject.bucket_id != bucket_id)
            transfers = transfers.join(
                FileEntry, FileEntry.id == FileTransfer.entry_id
            ).where(FileEntry.bucket_id != bucket_id)
        used.update(session.execute(objects.union(uploads, transfers)).scalars())
    return used


def is_used(file_id: Any, session: Optional[Session] = None) -> bool:
    """Tell whether any object version, upload or transfer references a file instance."""
    return bool(used_elsewhere([file_id], session=session))


def orphans(*columns: Any) -> Select[Any]:
    """Return a query of file instances nothing references."""
    by_object = select(ObjectVersion.version_id).where(
        ObjectVersion.file_id == FileInstance.id
    )
    by_upload = select(MultipartObject.upload_id).where(
        MultipartObject.file_id == FileInstance.id
    )
    by_transfer = select(FileTransfer.entry_id).where(
        FileTransfer.file_id == FileInstance.id
    )
    return select(*columns).where(
        ~by_object.exists(), ~by_upload.exists(), ~by_transfer.exists()
    )


def holds_bytes(fileinstance: FileInstance) -> bool:
    """Tell whether a file instance has bytes in storage (remote files have none)."""
    return bool(fileinstance.uri) and (
        fileinstance.storage_class != REMOTE_STORAGE_CLASS
    )


def release(fileinstance: FileInstance, session: Optional[Session] = None) -> bool:
    """Remove a file instance nothing references; its bytes go after commit.

    :returns: whether it was removed.
    """
    session = _session(session)
    if is_used(fileinstance.id, session):
        return False
    if holds_bytes(fileinstance):
        ledger.doom(fileinstance.storage())
    session.delete(fileinstance)
    return True
