"""Which files the fixity audit reads, which are due, and claiming a batch of them.

* ``settings()``: the audit's configuration (``FixitySettings``),
  read once per run.
* ``audited()``, ``stored_bytes()``, ``due()``, ``last_seen()``:
  the SQL conditions of the files the audit reads and of those due.
* ``claim_batch()``: a worker's ``Claim`` on a batch of due files,
  leased to it (see :mod:`~invenio_records_files_ext.maintenance.fixity`).
* ``count_due()``: how many files are due now.

Import these names from :mod:`~invenio_records_files_ext.maintenance.fixity`,
where they are documented.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance, ObjectVersion
from sqlalchemy import and_, func, or_, select, update

from ..db.sqlite import immediate_transactions
from ..models import REMOTE_STORAGE_CLASS, RecordsBuckets
from ..settings.current import current
from ..settings.groups import FixitySettings


def settings() -> FixitySettings:
    """Return the audit's settings (the application's ``fixity`` settings).

    :raises ValueError: ``RECORDS_FILES_FIXITY_BATCH`` is below 1.
    """
    read = current().fixity
    if read.batch < 1:
        raise ValueError("RECORDS_FILES_FIXITY_BATCH must be at least 1.")
    return read


def utcnow() -> datetime:
    """Return the current time, in UTC (what ``last_check_at`` holds)."""
    return datetime.now(tz=timezone.utc)


def last_seen() -> Any:
    """Return the SQL expression of when a file was last read back.

    A file never checked counts from when it was stored.
    """
    return func.coalesce(FileInstance.last_check_at, FileInstance.created)


def stored_bytes() -> Any:
    """Return the SQL condition of a file instance whose bytes are stored here.

    Readable, with a URI, not a reference to a remote URL.
    """
    return and_(
        FileInstance.readable.is_(True),
        FileInstance.uri.isnot(None),
        or_(
            FileInstance.storage_class.is_(None),
            FileInstance.storage_class != REMOTE_STORAGE_CLASS,
        ),
    )


def audited() -> Any:
    """Return the SQL condition of the file instances the audit reads.

    Stored bytes (:func:`stored_bytes`) of an object version in a bucket
    that a record links to.
    """
    # A correlated EXISTS: with the index of object versions by file
    # (models.FIXITY_LINK_INDEX) it costs one probe per candidate, and a
    # claim walking FIXITY_DUE_INDEX stops after about a batch of rows.
    linked = (
        select(ObjectVersion.file_id)
        .join(RecordsBuckets, RecordsBuckets.bucket_id == ObjectVersion.bucket_id)
        .where(ObjectVersion.file_id == FileInstance.id)
        .correlate_except(ObjectVersion, RecordsBuckets)
    )
    return and_(stored_bytes(), linked.exists())


def due(cutoff: datetime) -> Any:
    """Return the SQL condition of the audited files last read before ``cutoff``."""
    return and_(audited(), last_seen() <= cutoff)


@dataclass(frozen=True)
class Claim:
    """A batch of files a worker holds: their ids and the lease mark."""

    file_ids: tuple[uuid.UUID, ...]
    mark: datetime


def claim_batch(cutoff: datetime, size: int, lease: timedelta) -> Claim:
    """Claim up to ``size`` files last read before ``cutoff``, and commit.

    The claimed files get ``last_check_at = cutoff + lease``: no other
    claimer with a cut-off before that sees them due.
    """
    mark = cutoff + lease
    query = (
        select(FileInstance.id)
        .where(due(cutoff))
        .order_by(last_seen(), FileInstance.id)
        .limit(size)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=FileInstance)
    with immediate_transactions():
        try:
            ids = tuple(db.session.execute(query).scalars())
            if ids:
                db.session.execute(
                    update(FileInstance)
                    .where(FileInstance.id.in_(ids))
                    .values(last_check_at=mark)
                    .execution_options(synchronize_session=False)
                )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return Claim(ids, mark)


def count_due(now: Optional[datetime] = None) -> int:
    """Return how many audited files are due now (one ``COUNT``)."""
    cutoff = (now or utcnow()) - settings().interval
    count = db.session.execute(
        select(func.count()).select_from(FileInstance).where(due(cutoff))
    ).scalar_one()
    db.session.rollback()
    return int(count)


__all__ = (
    "Claim",
    "FixitySettings",
    "audited",
    "claim_batch",
    "count_due",
    "due",
    "last_seen",
    "settings",
    "stored_bytes",
    "utcnow",
)
