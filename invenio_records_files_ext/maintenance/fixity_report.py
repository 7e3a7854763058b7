"""The fixity audit's report: what failed, per record and per location.

It reads what the audit
(:mod:`invenio_records_files_ext.maintenance.fixity`) left in
Invenio-Files-REST's columns: a file *failed* when its ``last_check`` is
``False`` (its bytes differ from its checksums or size) or ``None`` after
a check (it could not be read, or nothing could be compared). A file
belongs to the location whose URI begins its own. The counts are
``GROUP BY`` queries and the failed files
arrive in slices: memory does not grow with the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance, Location, ObjectVersion
from sqlalchemy import case, func, select
from sqlalchemy.sql import Select

from ..models import RecordsBuckets
from .fixity_reading import MISMATCH, UNREADABLE
from .fixity_schedule import audited, last_seen, settings, stored_bytes, utcnow

FAILURES_SLICE = 500
"""Failed files fetched at a time."""

NO_LOCATION = "(no location)"
"""Location name shown for files whose URI no location begins."""


@dataclass(frozen=True)
class FailedFile:
    """One failed file, as one record's bucket holds it."""

    record_id: uuid.UUID
    key: str
    version_id: uuid.UUID
    is_head: bool
    file_id: uuid.UUID
    uri: str
    location: str
    status: str
    last_check_at: Optional[datetime]


@dataclass(frozen=True)
class LocationTally:
    """The audited files of one location."""

    location: str
    files: int
    failed: int
    due: int


@dataclass
class FixityReport:
    """The state of the audit: counts first, failed files lazily."""

    interval: timedelta
    files: int
    failed: int
    due: int
    never_checked: int
    oldest_check: Optional[datetime]
    locations: list[LocationTally]
    failures: Iterable[FailedFile]
    """Failed files by record, then key, newest version first (lazy)."""


def failed() -> Any:
    """Return the SQL condition of a file whose last check did not pass.

    A row without ``last_check`` nor ``last_check_at`` (written by code
    that set neither) was never checked: it is due, not failed.
    """
    return FileInstance.last_check.is_(False) | (
        FileInstance.last_check.is_(None) & FileInstance.last_check_at.isnot(None)
    )


def _in_location() -> Any:
    # A plain prefix comparison: a LIKE pattern would take "%" and "_" in a
    # location's URI as wildcards.
    return func.substr(FileInstance.uri, 1, func.length(Location.uri)) == Location.uri


def _location_name() -> Any:
    return func.coalesce(Location.name, NO_LOCATION)


def _tallies(cutoff: datetime) -> Select[Any]:
    name = _location_name()
    return (
        select(
            name,
            func.count(),
            func.sum(case((failed(), 1), else_=0)),
            func.sum(case((last_seen() <= cutoff, 1), else_=0)),
        )
        .select_from(FileInstance)
        .outerjoin(Location, _in_location())
        .where(audited())
        .group_by(name)
        .order_by(name)
    )


def _failures() -> Select[Any]:
    return (
        select(
            RecordsBuckets.record_id,
            ObjectVersion.key,
            ObjectVersion.version_id,
            ObjectVersion.is_head,
            FileInstance.id,
            FileInstance.uri,
            _location_name(),
            FileInstance.last_check,
            FileInstance.last_check_at,
        )
        .select_from(FileInstance)
        .join(ObjectVersion, ObjectVersion.file_id == FileInstance.id)
        .join(RecordsBuckets, RecordsBuckets.bucket_id == ObjectVersion.bucket_id)
        .outerjoin(Location, _in_location())
        .where(stored_bytes(), failed())
        .order_by(
            RecordsBuckets.record_id, ObjectVersion.key, ObjectVersion.created.desc()
        )
        .execution_options(yield_per=FAILURES_SLICE)
    )


def _failed_files() -> Iterable[FailedFile]:
    try:
        for row in db.session.execute(_failures()):
            record_id, key, version_id, is_head, file_id, uri, location = row[:7]
            last_check, last_check_at = row[7:]
            yield FailedFile(
                record_id,
                key,
                version_id,
                bool(is_head),
                file_id,
                uri,
                location,
                MISMATCH if last_check is False else UNREADABLE,
                last_check_at,
            )
    finally:
        db.session.rollback()


def build_report(now: Optional[datetime] = None) -> FixityReport:
    """Return the audit's report as of ``now`` (default: now)."""
    interval = settings().interval
    cutoff = (now or utcnow()) - interval
    locations = [
        LocationTally(name, int(files), int(bad or 0), int(late or 0))
        for name, files, bad, late in db.session.execute(_tallies(cutoff))
    ]
    never, oldest = db.session.execute(
        select(
            func.count(FileInstance.id).filter(FileInstance.last_check_at.is_(None)),
            func.min(last_seen()),
        ).where(audited())
    ).one()
    db.session.rollback()
    return FixityReport(
        interval=interval,
        files=sum(tally.files for tally in locations),
        failed=sum(tally.failed for tally in locations),
        due=sum(tally.due for tally in locations),
        never_checked=int(never or 0),
        oldest_check=oldest,
        locations=locations,
        failures=_failed_files(),
    )


__all__ = (
    "NO_LOCATION",
    "FailedFile",
    "FixityReport",
    "LocationTally",
    "build_report",
    "failed",
)
