"""Multipart uploads into a record's bucket: start, upload parts, abort.

Invenio-Files-REST reserves an upload's size in the bucket when it starts,
without locking the bucket, so parallel starts could all pass the quota.
Here the size is reserved by :func:`~invenio_records_files_ext.db.locks.charge`, under the bucket's row
lock like every other write: starts and single uploads together never pass
the quota. A part announced with a Content-MD5 is checked against it: a
part that does not match is not recorded, and can be sent again.
Completing an upload is
:meth:`~invenio_records_files_ext.files.iterator.FilesIterator.complete_multipart`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.errors import (
    BucketLockedError,
    MultipartAlreadyCompleted,
    MultipartInvalidChunkSize,
    MultipartInvalidPartNumber,
    MultipartInvalidSize,
)
from invenio_files_rest.models import Bucket, FileInstance, MultipartObject, Part
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from ..db import ledger, locks
from ..db.keys import validate_key
from ..db.ledger import release_if_read_only
from ..db.references import release
from ..db.steps import step
from ..storage.hashing import parse_content_md5
from ..transfers.parts import PartLayout, write_part


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


def layout_of(multipart: MultipartObject) -> PartLayout:
    """Return how an upload is cut (:class:`~invenio_records_files_ext.transfers.parts.PartLayout`).

    Files-REST numbers parts from 0; the layout from 1: part ``n`` of the
    protocol is the layout's part ``n + 1``.
    """
    return PartLayout.of(int(multipart.size), int(multipart.chunk_size))


def check_part(
    multipart: MultipartObject, part_number: int, content_length: Optional[int]
) -> None:
    """Refuse a part whose number or length does not fit the upload.

    :raises invenio_files_rest.errors.MultipartAlreadyCompleted: the
        upload is completed.
    :raises invenio_files_rest.errors.MultipartInvalidPartNumber: no such
        part.
    :raises invenio_files_rest.errors.MultipartInvalidChunkSize: the part
        is not ``partSize`` bytes long (the last one: the rest, a whole part
        when the size is a multiple of ``partSize``).
    """
    if multipart.completed:
        raise MultipartAlreadyCompleted()
    layout = layout_of(multipart)
    if not 0 <= part_number < layout.parts:
        raise MultipartInvalidPartNumber()
    expected = layout.length(part_number + 1)
    if content_length is not None and content_length != expected:
        raise MultipartInvalidChunkSize()


def upload_part(
    multipart: MultipartObject,
    part_number: int,
    stream: Any,
    content_length: Optional[int] = None,
    content_md5: Optional[str] = None,
    session: Optional[Session] = None,
) -> Part:
    """Write one part of a multipart upload and record it.

    The part's number and length, and the Content-MD5 when given, are
    checked before any byte is read. The bytes are then written with no
    transaction open (as single uploads are: a slow client holds no lock;
    unless the transaction holds earlier work of the caller, see
    :func:`~invenio_records_files_ext.db.ledger.release_if_read_only`) by
    :meth:`~invenio_records_files_ext.transfers.parts.PartsStorage.write_part`
    (the multipart transfer's too), and the part is recorded in a short
    transaction. If writing fails (a wrong Content-MD5, a body cut short),
    the part is not recorded, and an earlier record of the same part, whose
    bytes were just overwritten, is dropped (:func:`forget_part`): the part
    must be sent again.

    :raises invenio_records_files_ext.errors.InvalidContentMD5Error: the
        Content-MD5 is not an MD5 digest.
    :raises invenio_records_files_ext.errors.ChecksumMismatchError: the
        part does not match its Content-MD5.
    """
    session = session if session is not None else db.session()
    check_part(multipart, part_number, content_length)
    if content_md5 is not None:
        parse_content_md5(content_md5)
    upload_id, bucket_id = multipart.upload_id, multipart.bucket_id
    layout = layout_of(multipart)
    storage = multipart.file.storage()
    release_if_read_only(session)
    try:
        checksum = write_part(storage, layout, part_number + 1, stream, content_md5)
        with step():
            current = session.get(MultipartObject, upload_id)
            if current is None:
                raise _gone(bucket_id, session)
            if current.completed:
                raise MultipartAlreadyCompleted()
            part = Part.get_or_create(current, part_number)
            part.checksum = checksum
            session.flush()
    except Exception:
        forget_part(upload_id, part_number, session)
        raise
    return part


def _gone(bucket_id: Any, session: Session) -> Exception:
    """The error for a part whose upload went while it was written.

    Locking the files aborts their uploads: say so, as any write to the
    locked bucket would.
    """
    bucket = session.get(Bucket, bucket_id)
    if bucket is not None:
        locks.refresh_bucket(bucket, session)
        if bucket.locked:
            return BucketLockedError()  # type: ignore[no-any-return]  # Files-REST is untyped
    return NotFound(description="The multipart upload was aborted.")


def forget_part(
    upload_id: Any, part_number: int, session: Optional[Session] = None
) -> None:
    """Drop the record of one part, in a transaction of its own, and commit.

    Used after a part upload failed: its bytes may have overwritten those
    of an earlier upload of the same part, so that record is no longer
    true. The session's transaction is rolled back first (the upload
    failed: nothing of it is kept).
    """
    session = session if session is not None else db.session()
    session.rollback()
    session.execute(
        delete(Part).where(Part.upload_id == upload_id, Part.part_number == part_number)
    )
    session.commit()


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
    fileinstance = multipart.file
    abort_uploads(multipart.bucket, [multipart], session)
    return fileinstance


def abort_uploads(
    bucket: Bucket, uploads: list[MultipartObject], session: Optional[Session] = None
) -> list[str]:
    """Abort uploads of ``bucket``, giving their sizes back in one charge.

    Their rows go now, their bytes once this commits. Works on a locked
    bucket (locking it aborts its uploads).

    :returns: the keys of the uploads aborted.
    """
    session = session if session is not None else db.session()
    keys, total = [], 0
    with step():
        for multipart in uploads:
            fileinstance = multipart.file
            keys.append(multipart.key)
            total += remove_upload(multipart, session)
            if fileinstance is not None:
                release(fileinstance, session)
        locks.charge(bucket, -total, allow_locked=True, session=session)
    return keys


def open_uploads(
    bucket_id: Any, session: Optional[Session] = None
) -> list[MultipartObject]:
    """Return the uploads of a bucket that are not completed, oldest first."""
    session = session if session is not None else db.session()
    return list(
        session.execute(
            select(MultipartObject)
            .where(
                MultipartObject.bucket_id == bucket_id,
                MultipartObject.completed.is_(False),
            )
            .order_by(MultipartObject.created)
        ).scalars()
    )


def last_activity() -> Any:
    """SQL: when an upload last moved (started, or its newest part written)."""
    newest_part = (
        select(func.max(Part.updated))
        .where(Part.upload_id == MultipartObject.upload_id)
        .scalar_subquery()
    )
    return func.coalesce(newest_part, MultipartObject.updated)


def abandoned_uploads(
    cutoff: datetime, session: Optional[Session] = None
) -> list[MultipartObject]:
    """Return the open uploads that have not moved since ``cutoff`` (naive UTC)."""
    session = session if session is not None else db.session()
    return list(
        session.execute(
            select(MultipartObject)
            .where(
                MultipartObject.completed.is_(False),
                MultipartObject.updated < cutoff,
                last_activity() < cutoff,
            )
            .order_by(MultipartObject.created)
        ).scalars()
    )
