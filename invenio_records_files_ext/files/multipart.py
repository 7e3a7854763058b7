"""Multipart uploads into a record's bucket: start, abort.

Invenio-Files-REST reserves an upload's size in the bucket when it starts,
without locking the bucket, so parallel starts could all pass the quota.
Here the size is reserved by :func:`~invenio_records_files_ext.locks.charge`, under the bucket's row
lock like every other write: starts and single uploads together never pass
the quota. Completing an upload is
:meth:`~invenio_records_files_ext.files.iterator.FilesIterator.complete_multipart`.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.errors import (
    MultipartInvalidChunkSize,
    MultipartInvalidSize,
)
from invenio_files_rest.models import Bucket, FileInstance, MultipartObject, Part
from sqlalchemy import delete
from sqlalchemy.orm import Session

from .. import ledger, locks
from ..keys import validate_key
from ..references import release
from ..steps import step


def start(
    bucket: Bucket,
    key: str,
    size: int,
    part_size: int,
    session: Optional[Session] = None,
) -> MultipartObject:
    """Start a multipart upload of ``size`` bytes in parts of ``part_size``.

    :raises invenio_files_rest.errors.FileSizeError: over quota or limit.
    """
    key = validate_key(key)
    session = session if session is not None else db.session()
    if not MultipartObject.is_valid_chunksize(part_size):
        raise MultipartInvalidChunkSize()
    if not MultipartObject.is_valid_size(size, part_size):
        raise MultipartInvalidSize()
    with step():
        locks.charge(bucket, size, largest=size, session=session)
        fileinstance = FileInstance(id=uuid.uuid4(), size=size)
        fileinstance.readable = False
        fileinstance.writable = True
        session.add(fileinstance)
        multipart = MultipartObject(
            upload_id=uuid.uuid4(),
            bucket_id=bucket.id,
            key=key,
            chunk_size=part_size,
            size=size,
            completed=False,
            file_id=fileinstance.id,
        )
        session.add(multipart)
        session.flush()
        fileinstance.init_contents(
            size=size,
            default_location=bucket.location.uri,
            default_storage_class=bucket.default_storage_class,
        )
        if fileinstance.uri:
            ledger.stage(fileinstance.id, fileinstance.storage())
    return multipart


def remove_upload(multipart: MultipartObject, session: Optional[Session] = None) -> int:
    """Delete an upload's rows (not its file instance); return its size."""
    session = session if session is not None else db.session()
    size = int(multipart.size or 0)
    upload_id = multipart.upload_id
    session.execute(delete(Part).where(Part.upload_id == upload_id))
    session.execute(
        delete(MultipartObject).where(MultipartObject.upload_id == upload_id)
    )
    if multipart in session:
        session.expunge(multipart)
    return size


def abort(multipart: MultipartObject, session: Optional[Session] = None) -> Any:
    """Abort an upload: its reserved size is given back, its bytes go after commit."""
    session = session if session is not None else db.session()
    bucket = multipart.bucket
    fileinstance = multipart.file
    with step():
        size = remove_upload(multipart, session)
        locks.charge(bucket, -size, allow_locked=True, session=session)
        if fileinstance is not None:
            release(fileinstance, session)
    return fileinstance
