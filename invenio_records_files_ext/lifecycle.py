"""Soft deletion, restoring and purging of a record's files.

* *Bury* (soft delete): the record's file state (order, metadata, default
  preview, lock) is kept in a tombstone tag on the bucket, and the bucket is
  locked. Invenio-Records empties the JSON of a soft-deleted record, so the
  tombstone is what lets :func:`restore` bring the files back as they were.
* *Restore*: the lock state and ``_files`` come back from the tombstone.
* *Purge*: the record-bucket link, the bucket, its object versions, tags
  and multipart uploads are removed; file instances no other bucket uses
  are removed too and their bytes deleted from storage after commit. Bytes
  shared with another record (a new version made with ``files.copy()``)
  stay where they are.
"""

import json

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

from . import signals, transaction
from .entries import FileEntries
from .locks import lock_record_row
from .models import RecordsBuckets
from .sql import chunks
from .steps import send_signal

TOMBSTONE_TAG = "invenio-records-files-ext:tombstone"
"""Bucket tag keeping a soft-deleted record's file state."""


def bury(record):
    """Keep the record's file state in a tombstone and lock its files."""
    files = record.files
    if files is None:
        return
    lock_record_row(record.model)
    bucket = files.bucket
    state = {
        "locked": bool(bucket.locked),
        "files": files.entries.list,
        "default_preview": files.entries.default_preview,
    }
    BucketTag.create_or_update(bucket, TOMBSTONE_TAG, json.dumps(state))
    bucket.locked = True


def restore(record):
    """Bring back the file state kept by :func:`bury`."""
    bucket = record.bucket
    if bucket is None:
        return
    tag = BucketTag.get(bucket, TOMBSTONE_TAG)
    if tag is None:
        return
    lock_record_row(record.model)
    state = json.loads(tag.value)
    bucket.locked = state["locked"]
    db.session.delete(tag)
    entries = FileEntries(state["files"], state.get("default_preview"))
    stored = entries.merged_into(record.model.json)
    record.dump_bucket(stored, bucket)
    record.model.json = stored
    flag_modified(record.model, "json")
    entries.write_into(record)
    record.dump_bucket(record, bucket)
    record.__dict__.pop("_files_iter", None)
    send_signal(signals.files_restored, record=record)


def bucket_file_ids(bucket_id):
    """Return the ids of the file instances a bucket uses (uploads included)."""
    objects = select(ObjectVersion.file_id).where(
        ObjectVersion.bucket_id == bucket_id, ObjectVersion.file_id.isnot(None)
    )
    uploads = select(MultipartObject.file_id).where(
        MultipartObject.bucket_id == bucket_id
    )
    return set(db.session.execute(objects.union(uploads)).scalars())


def file_ids_only_in(bucket_id, file_ids=None):
    """Return which of the bucket's file instances no other bucket uses."""
    file_ids = bucket_file_ids(bucket_id) if file_ids is None else set(file_ids)
    used = set()
    for chunk in chunks(file_ids):
        objects = select(ObjectVersion.file_id).where(
            ObjectVersion.file_id.in_(chunk), ObjectVersion.bucket_id != bucket_id
        )
        uploads = select(MultipartObject.file_id).where(
            MultipartObject.file_id.in_(chunk),
            MultipartObject.bucket_id != bucket_id,
        )
        used.update(db.session.execute(objects.union(uploads)).scalars())
    return file_ids - used


def remove_bucket(bucket_id):
    """Remove a bucket, its contents and the file instances only it uses.

    Deletes the bucket's object versions and their tags, multipart uploads
    and their parts, bucket tags and record links, and the file instances no
    other bucket references; their bytes are deleted from storage once the
    transaction commits (nothing is lost if it rolls back).

    :returns: ``[(file_id, uri), ...]`` of the file instances removed.
    """
    session = db.session
    unshared = sorted(file_ids_only_in(bucket_id))
    versions = select(ObjectVersion.version_id).where(
        ObjectVersion.bucket_id == bucket_id
    )
    uploads = select(MultipartObject.upload_id).where(
        MultipartObject.bucket_id == bucket_id
    )
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
            if fileinstance.uri:
                transaction.doom(fileinstance.storage())
        session.execute(delete(FileInstance).where(FileInstance.id.in_(chunk)))
    session.execute(delete(Bucket).where(Bucket.id == bucket_id))
    return removed


def purge(record):
    """Remove the record's bucket and the bytes only it uses.

    The bytes are deleted from storage once the transaction commits; if it
    rolls back, nothing is lost.
    """
    bucket = record.bucket
    if bucket is None:
        return
    session = db.session
    lock_record_row(record.model, refresh=True)
    bucket_id = bucket.id
    session.execute(
        delete(RecordsBuckets).where(
            RecordsBuckets.record_id == record.id,
            RecordsBuckets.bucket_id == bucket_id,
        )
    )
    still_linked = session.execute(
        select(RecordsBuckets.record_id).where(RecordsBuckets.bucket_id == bucket_id)
    ).first()
    removed = [] if still_linked is not None else remove_bucket(bucket_id)
    # When another record uses the bucket too, only the link goes.
    send_signal(
        signals.files_purged,
        record=record,
        bucket_id=bucket_id,
        file_ids=[str(file_id) for file_id, _ in removed],
    )
