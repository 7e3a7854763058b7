"""Finding, and removing, what no record uses any more.

* Buckets linked to no record. Only buckets this package marked as a
  record's (:mod:`~invenio_records_files_ext.access.ownership`) are considered
  unless asked otherwise: other modules' buckets have no record link either.
  A bucket goes with its object versions, uploads and the file instances no
  other bucket uses; their bytes are deleted once the removal is committed.
* File instances no object version or multipart upload points to.
* Pending files abandoned: announced, and their transfer has not moved for
  longer than ``RECORDS_FILES_PENDING_MAX_AGE``. They go with their bytes
  and their quota reservation (a multipart upload open at S3 is aborted).
* Multipart uploads of Files-REST's protocol (``?uploads``) abandoned: not
  moved (started, or a part written) for as long. They are aborted: their
  bytes and reservation go, on locked buckets too.

Bytes in local folders no file instance points to are the job of
:mod:`.localstorage`; :func:`.gc_collect.collect` runs every step in order. Each removal is committed on its own, and every
candidate is looked at again under lock before it goes: something may have
started using it since it was listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import (
    Bucket,
    FileInstance,
    MultipartObject,
    ObjectVersion,
)
from sqlalchemy import delete, func, select

from ..access import ownership
from ..db import ledger, locks
from ..db.references import bucket_file_ids, holds_bytes, orphans, used_elsewhere
from ..db.sql import chunks
from ..errors import describe
from ..files import multipart as multipart_uploads
from ..files import pending_rows
from ..files.pending import PendingWriter, abort_at_storage
from ..models import RecordsBuckets
from ..records.lifecycle import remove_bucket
from .localstorage import SweepState

DELETED = "deleted"
"""Status of a bucket that was removed."""

KEPT = "kept"
"""Status of a bucket linked again (or gone) before it could be removed."""

FAILED = "failed"
"""Status of a bucket whose removal failed (and was rolled back)."""


@dataclass(frozen=True)
class UnusedBucket:
    """A bucket no record links, and what removing it would reclaim."""

    bucket_id: Any
    versions: int
    size: int
    """Bytes of every file instance the bucket uses."""

    reclaim: int
    """Bytes of the file instances no other bucket uses."""


@dataclass(frozen=True)
class BucketOutcome:
    """What became of one unused bucket."""

    bucket_id: Any
    status: str
    """:data:`DELETED`, :data:`KEPT` (in use again) or :data:`FAILED`."""

    error: Optional[str] = None


@dataclass(frozen=True)
class OrphanFile:
    """A file instance nothing points to."""

    file_id: Any
    size: Optional[int]
    uri: Optional[str]


@dataclass
class OrphanDeletion:
    """What removing orphan file instances did."""

    removed: int
    errors: list[str]


def _unlinked() -> Any:
    linked = select(RecordsBuckets.record_id).where(
        RecordsBuckets.bucket_id == Bucket.id
    )
    return ~linked.exists()


def _sizes_of(file_ids: Any) -> int:
    total = 0
    for chunk in chunks(file_ids):
        total += db.session.execute(
            select(func.coalesce(func.sum(FileInstance.size), 0)).where(
                FileInstance.id.in_(chunk)
            )
        ).scalar()
    return int(total)


def _describe(bucket_id: Any) -> UnusedBucket:
    versions = db.session.execute(
        select(func.count()).where(ObjectVersion.bucket_id == bucket_id)
    ).scalar()
    file_ids = bucket_file_ids(bucket_id)
    return UnusedBucket(
        bucket_id,
        int(versions or 0),
        _sizes_of(file_ids),
        _sizes_of(file_ids - used_elsewhere(file_ids, bucket_id=bucket_id)),
    )


def unused_buckets(include_unmarked: bool = False) -> list[UnusedBucket]:
    """Return the buckets no record links, oldest first.

    :param include_unmarked: also buckets this package never linked, such
        as other modules' buckets: they are garbage only if nothing else in
        the site uses them, which this package cannot know.
    """
    query = select(Bucket.id).where(_unlinked()).order_by(Bucket.created)
    if not include_unmarked:
        query = query.where(ownership.is_marked(Bucket.id))
    bucket_ids = list(db.session.execute(query).scalars())
    found = [_describe(bucket_id) for bucket_id in bucket_ids]
    db.session.rollback()
    return found


def _delete_bucket(bucket_id: Any, state: SweepState) -> bool:
    """Remove an unused bucket and what only it uses; return if removed."""
    session = db.session
    # Lock the bucket before looking at its links: a transaction linking it
    # to a record (or adding an object to it) waits for this one and then
    # fails on the missing bucket, instead of losing its files.
    locked = session.execute(
        select(Bucket.id).where(Bucket.id == bucket_id).with_for_update()
    ).first()
    if locked is None:
        return False
    linked = session.execute(
        select(RecordsBuckets.record_id).where(RecordsBuckets.bucket_id == bucket_id)
    ).first()
    if linked is not None:
        return False
    for _, uri in remove_bucket(bucket_id):
        # The ledger deletes the bytes once the removal is committed.
        state.bytes_removed(uri)
    return True


def delete_buckets(bucket_ids: list[Any], state: SweepState) -> list[BucketOutcome]:
    """Remove unused buckets, one transaction each, in order."""
    outcomes = []
    for bucket_id in bucket_ids:
        try:
            removed = _delete_bucket(bucket_id, state)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            outcomes.append(BucketOutcome(bucket_id, FAILED, describe(error)))
            continue
        outcomes.append(BucketOutcome(bucket_id, DELETED if removed else KEPT))
    return outcomes


def _orphans(*columns: Any, ids: Optional[list[Any]] = None) -> Any:
    query = orphans(*columns)
    if ids is not None:
        query = query.where(FileInstance.id.in_(ids))
    return query


def orphan_files() -> list[OrphanFile]:
    """Return the file instances nothing points to, oldest first."""
    rows = db.session.execute(
        _orphans(FileInstance.id, FileInstance.size, FileInstance.uri).order_by(
            FileInstance.created
        )
    ).all()
    db.session.rollback()
    return [OrphanFile(*row) for row in rows]


def delete_orphan_files(file_ids: list[Any], state: SweepState) -> OrphanDeletion:
    """Remove file instances still unused; bytes go after each commit."""
    removed, errors = 0, []
    for chunk in chunks(file_ids):
        try:
            # Looked at again under lock: one may have been used meanwhile.
            found = (
                db.session.execute(_orphans(FileInstance, ids=chunk).with_for_update())
                .scalars()
                .all()
            )
            for fileinstance in found:
                if holds_bytes(fileinstance):
                    ledger.doom(fileinstance.storage())
                    state.bytes_removed(fileinstance.uri)
            db.session.execute(
                delete(FileInstance).where(
                    FileInstance.id.in_([fileinstance.id for fileinstance in found])
                )
            )
            db.session.commit()
            removed += len(found)
        except Exception as error:
            db.session.rollback()
            errors.append(describe(error))
    return OrphanDeletion(removed, errors)


@dataclass(frozen=True)
class AbandonedFile:
    """A pending file whose transfer has not moved for too long."""

    bucket_id: Any
    key: str
    type: str
    state: str
    updated: Any
    reserved: int


def abandoned_files(max_age: float) -> list[AbandonedFile]:
    """Return the pending files untouched for ``max_age`` seconds, oldest first."""
    cutoff = datetime.now(tz=timezone.utc) - timedelta(seconds=max_age)
    found = [
        AbandonedFile(
            item.bucket_id, item.key, item.type, item.state, item.updated, item.reserved
        )
        for item in pending_rows.abandoned(cutoff)
    ]
    db.session.rollback()
    return found


def delete_abandoned(items: list[AbandonedFile], max_age: float) -> OrphanDeletion:
    """Remove abandoned pending files, one transaction each.

    Each is looked at again under its lock: a transfer that moved since it
    was listed is kept.
    """
    cutoff = datetime.now(tz=timezone.utc) - timedelta(seconds=max_age)
    removed, errors = 0, []
    for item in items:
        try:
            bucket = db.session.get(Bucket, item.bucket_id)
            writer = PendingWriter(bucket)
            locks.lock_keys(item.bucket_id, [item.key])
            found = pending_rows.get(item.bucket_id, item.key)
            if found is not None and _older(found.updated, cutoff):
                abort_at_storage(found, db.session())
                writer.discard(item.key)
                removed += 1
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            errors.append("{0}: {1}".format(item.key, describe(error)))
    return OrphanDeletion(removed, errors)


@dataclass(frozen=True)
class AbandonedUpload:
    """A multipart upload of Files-REST's protocol that has not moved for too long."""

    bucket_id: Any
    key: str
    upload_id: Any
    updated: Any
    """When it last moved: started, or its newest part written."""

    reserved: int


def _upload_cutoff(max_age: float) -> datetime:
    # Files-REST's timestamps are naive UTC.
    return (datetime.now(tz=timezone.utc) - timedelta(seconds=max_age)).replace(
        tzinfo=None
    )


def abandoned_uploads(max_age: float) -> list[AbandonedUpload]:
    """Return the open multipart uploads untouched for ``max_age`` seconds.

    The uploads of Files-REST's ``?uploads`` protocol; those of the
    multipart transfer are pending files (:func:`abandoned_files`).
    """
    session = db.session
    cutoff = _upload_cutoff(max_age)
    found = []
    for multipart in multipart_uploads.abandoned_uploads(cutoff, session):
        moved = session.execute(
            select(multipart_uploads.last_activity()).where(
                MultipartObject.upload_id == multipart.upload_id
            )
        ).scalar()
        found.append(
            AbandonedUpload(
                multipart.bucket_id,
                multipart.key,
                multipart.upload_id,
                moved,
                int(multipart.size or 0),
            )
        )
    db.session.rollback()
    return found


def delete_abandoned_uploads(
    items: list[AbandonedUpload], max_age: float
) -> OrphanDeletion:
    """Abort abandoned multipart uploads, one transaction each.

    Each is looked at again under its bucket's lock: an upload that moved
    since it was listed (or completed, or went) is kept. Their reservations
    are given back, locked buckets included.
    """
    cutoff = _upload_cutoff(max_age)
    removed, errors = 0, []
    for item in items:
        try:
            locks.lock_bucket(item.bucket_id)
            still = [
                multipart
                for multipart in multipart_uploads.abandoned_uploads(cutoff)
                if multipart.upload_id == item.upload_id
            ]
            if still:
                bucket = db.session.get(Bucket, item.bucket_id)
                multipart_uploads.abort_uploads(bucket, still)
                removed += 1
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            errors.append("{0}: {1}".format(item.key, describe(error)))
    return OrphanDeletion(removed, errors)


def _older(updated: Any, cutoff: datetime) -> bool:
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=timezone.utc)
    return bool(updated < cutoff)
