"""Comparing records' file rows with their buckets' current versions.

Rows and object versions change together through this package; code that
writes object versions directly (or a database restored from pieces) can
leave them apart. :func:`check_link` says what
:func:`~invenio_records_files_ext.files.sync.repair` would change for a
bucket of a record, and with ``repair`` changes it: keys with a current version but no
row are *added* (at the end of the order), rows naming another version (or
with a stale size or MIME type) are *updated*, and rows of keys without a
current file are *removed*.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from invenio_db import db
from sqlalchemy import and_, or_, select

from ..files import sync
from ..files.sync import SyncReport
from ..models import RecordsBuckets
from .identifiers import RecordId
from .records import load_record

LINKS_SLICE = 500
"""Record links read per query when checking every record."""


@dataclass(frozen=True)
class Link:
    """A record and one of its buckets."""

    record_id: Any
    bucket_id: Any


@dataclass
class RecordCheck:
    """The differences found in one bucket of a record."""

    record_id: Any
    bucket_id: Any
    report: SyncReport
    repaired: bool


@dataclass
class CheckSummary:
    """Totals over many checks."""

    records: int = 0
    differing: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    without_bucket: list[Any] = field(default_factory=list)

    def add(self, checks: list[RecordCheck]) -> None:
        """Count one record's checks."""
        self.records += 1
        if any(check.report.changed for check in checks):
            self.differing += 1
        for check in checks:
            self.added += len(check.report.added)
            self.updated += len(check.report.updated)
            self.removed += len(check.report.removed)


def links_of(record_id: RecordId) -> list[Link]:
    """Return the buckets linked to one record (checking it exists).

    :raises invenio_records_files_ext.errors.RecordNotFoundError: no record
        has this id.
    """
    record = load_record(record_id, allow_deleted=True)
    bucket_ids = db.session.execute(
        select(RecordsBuckets.bucket_id)
        .where(RecordsBuckets.record_id == record.id)
        .order_by(RecordsBuckets.bucket_id)
    ).scalars()
    links = [Link(record.id, bucket_id) for bucket_id in bucket_ids]
    db.session.rollback()
    return links


def all_links(slice_size: int = LINKS_SLICE) -> Iterator[list[Link]]:
    """Yield every record's links, one record at a time, by record id.

    Links are read in slices (keyset pages), so memory does not grow with
    the database and commits between records do not disturb the walk.
    """
    after: Optional[tuple[Any, Any]] = None
    pending: list[Link] = []
    while True:
        query = select(RecordsBuckets.record_id, RecordsBuckets.bucket_id).order_by(
            RecordsBuckets.record_id, RecordsBuckets.bucket_id
        )
        if after is not None:
            query = query.where(
                or_(
                    RecordsBuckets.record_id > after[0],
                    and_(
                        RecordsBuckets.record_id == after[0],
                        RecordsBuckets.bucket_id > after[1],
                    ),
                )
            )
        rows = db.session.execute(query.limit(slice_size)).all()
        for record_id, bucket_id in rows:
            if pending and pending[0].record_id != record_id:
                yield pending
                pending = []
            pending.append(Link(record_id, bucket_id))
        if len(rows) < slice_size:
            break
        after = tuple(rows[-1])
    if pending:
        yield pending


def check_link(link: Link, repair: bool = False) -> RecordCheck:
    """Compare one bucket's rows with its current versions; repair if asked.

    A repair is committed; a check ends its read transaction.
    """
    try:
        report = sync.repair(link.bucket_id, dry_run=not repair)
        if repair and report.changed:
            db.session.commit()
        else:
            db.session.rollback()
    except BaseException:
        db.session.rollback()
        raise
    return RecordCheck(link.record_id, link.bucket_id, report, repair)


def check_links(links: list[Link], repair: bool = False) -> list[RecordCheck]:
    """Check (or repair) each bucket of one record."""
    return [check_link(link, repair) for link in links]


@dataclass
class RecordOutcome:
    """What checking (or repairing) one record's buckets gave."""

    record_id: Any
    checks: list[RecordCheck]
    """One per bucket; empty when the record failed."""
    error: Optional[Exception] = None
    """Why the record could not be checked, if it could not."""


def check_records(
    groups: Iterable[list[Link]], repair: bool = False
) -> Iterator[RecordOutcome]:
    """Check (or repair) each record's buckets in turn, record by record.

    A record whose check fails (its transaction rolled back) is reported
    with its error, and the next records are still checked: one broken
    record does not hide the state of the others.
    """
    for links in groups:
        record_id = links[0].record_id
        try:
            checks = check_links(links, repair=repair)
        except Exception as error:
            yield RecordOutcome(record_id, [], error)
            continue
        yield RecordOutcome(record_id, checks)
