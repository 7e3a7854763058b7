"""Soft deletion, restoring and purging of a record's files.

* *Bury* (soft delete): the bucket (and the media files bucket, if any) is
  locked and its previous lock state kept in a tombstone tag on the bucket. The file rows stay as they are, so
  the files, their order and metadata survive the record's emptied JSON.
* *Restore*: the lock state comes back from the tombstone.
* *Purge*: the record-bucket link, the bucket, its rows, object versions,
  tags and multipart uploads are removed; file instances no other bucket
  uses are removed too and their bytes deleted from storage after commit.
  Bytes shared with another record (a new version made with
  ``files.copy()``) stay where they are.
"""

from __future__ import annotations

import json
from typing import Any

from invenio_db import db
from invenio_files_rest.models import (
    Bucket,
    BucketTag,
    FileInstance,
    MultipartObject,
    ObjectVersion,
    ObjectVersionTag,
    Part,
)
from sqlalchemy import delete, select
from sqlalchemy.orm.attributes import flag_modified

from .. import signals
from ..access import ownership
from ..db import ledger, locks
from ..db.references import bucket_file_ids, holds_bytes, used_elsewhere
from ..db.sql import chunks
from ..db.steps import send_signal
from ..files import inline, rows
from ..files.pending import discard_bucket
from ..models import RecordsBuckets

TOMBSTONE_TAG = "invenio-records-files-ext:tombstone"
"""Bucket tag keeping a soft-deleted record's lock state."""


def _buckets(record: Any) -> list[Any]:
    """The record's files bucket, then its media files bucket (when it has them)."""
    if hasattr(record, "buckets_by_role"):
        return [bucket for _, bucket in record.buckets_by_role()]
    bucket = record.bucket
    return [bucket] if bucket is not None else []


def bury(record: Any) -> None:
    """Lock the record's files and media files, remembering whether they were locked."""
    if record.files is None:
        return
    for bucket in _buckets(record):
        locks.lock_bucket(bucket.id)
        locks.refresh_bucket(bucket)
        BucketTag.create_or_update(
            bucket, TOMBSTONE_TAG, json.dumps({"locked": bool(bucket.locked)})
        )
        bucket.locked = True


def _unbury(bucket: Any) -> bool:
    tag = BucketTag.get(bucket, TOMBSTONE_TAG)
    if tag is None:
        return False
    locks.lock_bucket(bucket.id)
    locks.refresh_bucket(bucket)
    try:
        locked = bool(json.loads(tag.value).get("locked", False))
    except (ValueError, TypeError, AttributeError):
        locked = False
    bucket.locked = locked
    db.session.delete(tag)
    return True


def restore(record: Any) -> None:
    """Bring back the lock states kept by :func:`bury`."""
    bucket = record.bucket
    if bucket is None:
        return
    restored = [_unbury(each) for each in _buckets(record)]
    if not restored[0]:
        return
    # Invenio-Records restores an empty JSON: the bucket ids come back.
    stored = dict(record.model.json or {})
    media = getattr(record, "media_bucket", None)
    for target in (stored, record):
        record.dump_bucket(target, bucket)
        if media is not None and hasattr(record, "dump_media_bucket"):
            record.dump_media_bucket(target, media)
    record.model.json = stored
    flag_modified(record.model, "json")
    record.__dict__.pop("_files_iter", None)
    record.__dict__.pop("_media_iter", None)
    inline.forget(record)
    send_signal(signals.files_restored, record=record)


def remove_bucket(bucket_id: Any) -> list[tuple[Any, str]]:
    """Remove a bucket, its contents and the file instances only it uses.

    Deletes the bucket's file rows, object versions and their tags,
    multipart uploads and their parts, bucket tags and record links, and the
    file instances no other bucket references; their bytes are deleted from
    storage once the transaction commits (nothing is lost if it rolls back).

    :returns: ``[(file_id, uri), ...]`` of the file instances removed.
    """
    session = db.session
    file_ids = bucket_file_ids(bucket_id)
    unshared = sorted(file_ids - used_elsewhere(file_ids, bucket_id=bucket_id))
    versions = select(ObjectVersion.version_id).where(
        ObjectVersion.bucket_id == bucket_id
    )
    uploads = select(MultipartObject.upload_id).where(
        MultipartObject.bucket_id == bucket_id
    )
    # Pending uploads' transfers go first: they reference their file
    # instances (counted in file_ids above) and their rows.
    discard_bucket(bucket_id, session)
    rows.delete_bucket_rows(bucket_id)
    session.execute(
        delete(ObjectVersionTag).where(ObjectVersionTag.version_id.in_(versions))
    )
    session.execute(delete(Part).where(Part.upload_id.in_(uploads)))
    session.execute(
        delete(MultipartObject).where(MultipartObject.bucket_id == bucket_id)
    )
    session.execute(delete(ObjectVersion).where(ObjectVersion.bucket_id == bucket_id))
    session.execute(delete(BucketTag).where(BucketTag.bucket_id == bucket_id))
    session.execute(delete(RecordsBuckets).where(RecordsBuckets.bucket_id == bucket_id))
    removed = []
    for chunk in chunks(unshared):
        for fileinstance in session.execute(
            select(FileInstance).where(FileInstance.id.in_(chunk))
        ).scalars():
            removed.append((fileinstance.id, fileinstance.uri))
            if holds_bytes(fileinstance):
                ledger.doom(fileinstance.storage())
        session.execute(delete(FileInstance).where(FileInstance.id.in_(chunk)))
    session.execute(delete(Bucket).where(Bucket.id == bucket_id))
    return removed


def purge(record: Any) -> None:
    """Remove the record's buckets (files and media files) and the bytes only they use.

    The bytes are deleted from storage once the transaction commits; if it
    rolls back, nothing is lost. :data:`~invenio_records_files_ext.signals.files_purged`
    is sent once per bucket.
    """
    for bucket in _buckets(record):
        _purge_bucket(record, bucket.id)


def _purge_bucket(record: Any, bucket_id: Any) -> None:
    session = db.session
    locks.lock_bucket(bucket_id)
    session.execute(
        delete(RecordsBuckets).where(
            RecordsBuckets.record_id == record.id,
            RecordsBuckets.bucket_id == bucket_id,
        )
    )
    still_linked = session.execute(
        select(RecordsBuckets.record_id).where(RecordsBuckets.bucket_id == bucket_id)
    ).first()
    # When another record uses the bucket too, only the link goes; the tag
    # lets garbage collection take the bucket once the last link goes.
    if still_linked is not None:
        ownership.mark_id(bucket_id)
        removed = []
    else:
        removed = remove_bucket(bucket_id)
    send_signal(
        signals.files_purged,
        record=record,
        bucket_id=bucket_id,
        file_ids=[str(file_id) for file_id, _ in removed],
    )
