"""Locks that keep concurrent writers of one bucket's files apart.

Writers of *different keys* of one record must not wait for each other,
writers of the *same key* must, and whole-bucket operations (bulk attach,
copy, lock, soft delete, purge) must wait for every single-file writer.
On PostgreSQL this is done with transaction-scoped advisory locks, in a
fixed order so that no two writers can deadlock:

1. the bucket's lock: shared by single-file writers, exclusive for
   whole-bucket operations (:func:`lock_keys`, :func:`lock_bucket`);
2. the lock of each key written, in sorted order;
3. last, the bucket's row, by :func:`charge`, which re-reads the bucket
   under ``SELECT ... FOR UPDATE``, refuses locked or deleted buckets,
   checks the quota and adds the size. Taken last, it is held only for the
   few statements before commit.

SQLite lets one writer at a time in anyway, so (1) and (2) cost nothing
there. Other databases fall back to locking the bucket row at step (1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.errors import (
    BucketLockedError,
    FileSizeError,
    InvalidOperationError,
)
from invenio_files_rest.models import Bucket
from sqlalchemy import BigInteger, bindparam, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import MAX_SIZE
from .sql import primary_key

_KEY_LOCK = text("SELECT pg_advisory_xact_lock(:id)")
_BUCKETS = Bucket.__table__
# The timestamp is an execution parameter: a statement holding one (its
# type is not cacheable) would be compiled again on every call.
_ADD_SIZE = (
    update(_BUCKETS)
    .where(_BUCKETS.c.id == bindparam("b_id"))
    .values(size=_BUCKETS.c.size + bindparam("b_delta", type_=BigInteger))
)
_SHARED_LOCK = text("SELECT pg_advisory_xact_lock_shared(:id)")
# unnest() yields the array in its order: the locks are taken in the order
# of the ids, one statement however many keys.
_KEY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(id) FROM unnest(CAST(:ids AS bigint[])) AS id"
)


def lock_id(*parts: Any) -> int:
    """Return a signed 64-bit advisory lock id for ``parts``.

    A collision only makes two unrelated writers wait for each other.
    """
    digest = hashlib.blake2b(
        "\x00".join(str(part) for part in parts).encode("utf-8"), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _lock_bucket_row(session: Session, bucket_id: Any) -> None:
    session.execute(
        select(Bucket.id).where(Bucket.id == bucket_id).with_for_update(key_share=True)
    ).first()


def lock_keys(
    bucket_id: Any, keys: Iterable[str], session: Optional[Session] = None
) -> None:
    """Serialise writers of these keys of a bucket until the transaction ends.

    Other keys of the bucket stay free; whole-bucket operations wait.
    """
    session = session if session is not None else db.session()
    dialect = _dialect(session)
    if dialect == "sqlite":
        return
    if dialect != "postgresql":
        _lock_bucket_row(session, bucket_id)
        return
    session.execute(_SHARED_LOCK, {"id": lock_id(bucket_id)})
    # Every writer takes its keys' locks in the same (id) order: two
    # writers of the same keys cannot deadlock.
    ids = sorted({lock_id(bucket_id, key) for key in keys})
    if len(ids) == 1:
        session.execute(_KEY_LOCK, {"id": ids[0]})
    elif ids:
        session.execute(_KEY_LOCKS, {"ids": ids})


def lock_bucket(bucket_id: Any, session: Optional[Session] = None) -> None:
    """Serialise with every other writer of the bucket until the transaction ends."""
    session = session if session is not None else db.session()
    dialect = _dialect(session)
    if dialect == "sqlite":
        return
    if dialect != "postgresql":
        _lock_bucket_row(session, bucket_id)
        return
    session.execute(_KEY_LOCK, {"id": lock_id(bucket_id)})


def refresh_bucket(bucket: Bucket, session: Optional[Session] = None) -> Bucket:
    """Re-read the bucket's state under its row lock (held until commit)."""
    session = session if session is not None else db.session()
    row = session.execute(
        select(
            Bucket.size,
            Bucket.quota_size,
            Bucket.max_file_size,
            Bucket.locked,
            Bucket.deleted,
        )
        .where(Bucket.id == primary_key(bucket))
        # NO KEY UPDATE on PostgreSQL: rows inserted under the bucket (object
        # versions, file rows) hold KEY SHARE locks on it through their
        # foreign keys, which a plain FOR UPDATE would wait for: two writers
        # would deadlock.
        .with_for_update(key_share=True)
    ).one()
    for name in ("size", "quota_size", "max_file_size", "locked", "deleted"):
        set_committed_value(bucket, name, getattr(row, name))
    return bucket


def check_writable(bucket: Bucket) -> Bucket:
    """Refuse deleted and locked buckets."""
    if bucket.deleted:
        raise InvalidOperationError(description="The bucket has been deleted.")
    if bucket.locked:
        raise BucketLockedError()
    return bucket


def charge(
    bucket: Bucket,
    delta: int,
    largest: Optional[int] = None,
    allow_locked: bool = False,
    session: Optional[Session] = None,
) -> None:
    """Add ``delta`` bytes to the bucket's size, under its row lock.

    Call it as the last statement of a write: the row stays locked until
    the transaction ends. The bucket is re-read first, so a bucket locked
    or filled by another transaction since the caller looked is refused.

    :param largest: the largest new file, checked against the bucket's
        size limit (Invenio-Files-REST's limiters, quota included).
    :raises invenio_files_rest.errors.FileSizeError: over quota or limit.
    """
    session = session if session is not None else db.session()
    refresh_bucket(bucket, session)
    if not allow_locked:
        check_writable(bucket)
    if delta > 0:
        if bucket.size + delta > MAX_SIZE:
            raise FileSizeError(description="The bucket cannot hold that many bytes.")
        quota = bucket.quota_size
        if quota is not None and bucket.size + delta > quota:
            raise FileSizeError(description="Bucket quota exceeded.")
        limit = bucket.size_limit
        if largest is not None and limit is not None and largest > limit:
            raise FileSizeError(
                description=getattr(limit, "reason", "File size limit exceeded.")
            )
    if delta:
        session.execute(
            _ADD_SIZE,
            {
                "b_id": bucket.id,
                "b_delta": delta,
                "updated": datetime.now(tz=timezone.utc),
            },
        )
        set_committed_value(bucket, "size", bucket.size + delta)
