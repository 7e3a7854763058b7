"""Leases of fetching transfers: the worker's heartbeat, and what the sweep finds.

A worker that takes a fetch on (state ``fetching``) holds it as long as it
renews the transfer row's ``updated`` time, which it does every few
seconds while bytes come (:func:`renew`). The value it last wrote is its
lease: a sweep (:func:`~invenio_records_files_ext.transfers.jobs.sweep`) that finds
a row not renewed for ``RECORDS_FILES_FETCH_LEASE`` seconds takes it from
the worker (:func:`take_back`), which then finds its lease gone at its next
renewal and stops. Every change is guarded by the value read, so two
sweeps, or a sweep and a late worker, never both win.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from invenio_db import db
from sqlalchemy import update

from ..models import FileTransfer
from ..transfers import FETCHING, QUEUED
from . import pending_rows
from .pending_rows import PendingFile


def _now() -> datetime:
    return datetime.now(tz=timezone.utc)


def _same(value: Any, other: Any) -> bool:
    # Databases hand back UTC times with or without a zone.
    if value is None or other is None:
        return value is other
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    if other.tzinfo is None:
        other = other.replace(tzinfo=timezone.utc)
    return bool(value == other)


def renew(entry_id: Any, lease: Any) -> Optional[datetime]:
    """Renew the lease ``lease`` of a fetching transfer, in a transaction of its own.

    :param lease: the ``updated`` value the worker last wrote (or read
        when it took the transfer on).
    :returns: the new lease, or ``None`` if the worker no longer holds it.
    """
    now = _now()
    with db.engine.begin() as connection:
        row = connection.execute(
            FileTransfer.__table__.select().where(
                FileTransfer.entry_id == entry_id, FileTransfer.state == FETCHING
            )
        ).first()
        if row is None or not _same(row.updated, lease):
            return None
        result = connection.execute(
            update(FileTransfer)
            .where(
                FileTransfer.entry_id == entry_id,
                FileTransfer.state == FETCHING,
                FileTransfer.updated == row.updated,
            )
            .values(updated=now)
        )
    return now if result.rowcount == 1 else None


def expired(cutoff: datetime, limit: int = 1000) -> list[PendingFile]:
    """Return fetching transfers whose lease was not renewed since ``cutoff``."""
    found = pending_rows.abandoned(cutoff)
    return [item for item in found if item.state == FETCHING][:limit]


def take_back(found: PendingFile, **values: Any) -> bool:
    """Put an expired fetch back in the queue (state ``queued``), in the session.

    :param values: other columns to change (the details, counting losses).
    :returns: whether this call took it (nobody renewed or took it since
        ``found`` was read).
    """
    result = db.session.execute(
        update(FileTransfer)
        .where(
            FileTransfer.entry_id == found.entry_id,
            FileTransfer.state == FETCHING,
            FileTransfer.updated == found.updated,
        )
        .values(state=QUEUED, updated=_now(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


__all__ = ("expired", "renew", "take_back")
