"""The fixity audit: re-reading stored bytes on a schedule, many workers at once.

Every stored file instance of the records' buckets (the buckets linked
through :class:`~invenio_records_files_ext.models.RecordsBuckets`, every
version of every key) is read back at most once per
``RECORDS_FILES_FIXITY_INTERVAL``, the longest unchecked first, and compared
with every checksum kept for it (:func:`~invenio_records_files_ext.storage.checksums.stored_checksums`).
The algorithms configured since the file was stored
(:func:`~invenio_records_files_ext.storage.checksums.configured_algorithms`) are
computed in the same read and kept, once the stored ones match.

The result goes where Invenio-Files-REST keeps it, with the meaning its
``FileInstance.verify_checksum`` gives it: ``last_check_at`` is when the
file was last read back, ``last_check`` is ``True`` (the bytes match),
``False`` (they do not: a checksum or the size differs) or ``None`` (they
could not be read, or there was nothing to compare them with). A file
never checked counts from its ``created`` time.

Sharing the work. A worker *claims* a batch (``RECORDS_FILES_FIXITY_BATCH``
files) in a short transaction: it selects due files (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so that claimers pass each other's rows by; on
SQLite the claim begins ``IMMEDIATE``: one claimer at a time) and moves
their ``last_check_at`` to a *lease mark*, the claimer's cut-off plus
``RECORDS_FILES_FIXITY_LEASE``: the files are then not due for anybody
until the lease runs out. The bytes are read outside any transaction; the
results of a batch are stored together, only for the files that still
hold the worker's mark, so a
file is never checked twice, and a worker that dies leaves its files due
again once the lease is over, their ``last_check`` untouched. Memory does
not grow with the database: a claim is one bounded keyset query, a file is
read in chunks.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from flask import current_app
from invenio_db import db
from invenio_files_rest.models import FileInstance, ObjectVersion
from sqlalchemy import and_, func, or_, select, update

from ..db.sqlite import immediate_transactions
from ..db.steps import app_object
from ..errors import describe
from ..models import REMOTE_STORAGE_CLASS, RecordsBuckets
from ..signals import fixity_failed
from ..storage.checksums import configured_algorithms, save_checksums, stored_checksums
from ..storage.digests import DONE, Digests
from ..storage.hashing import READ_SIZE

logger = logging.getLogger(__name__)

PASSED = "passed"
"""Outcome of a file whose bytes match every stored checksum and the size."""

MISMATCH = "mismatch"
"""Outcome of a file whose bytes differ (``last_check = False``)."""

UNREADABLE = "unreadable"
"""Outcome of a file that could not be verified (``last_check = None``)."""


@dataclass(frozen=True)
class FixitySettings:
    """How the audit runs: the configuration read once per run."""

    interval: timedelta
    batch: int
    lease: timedelta


def _duration(value: Any) -> timedelta:
    """Return a :class:`~datetime.timedelta` from one, or from seconds."""
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=float(value))


def settings() -> FixitySettings:
    """Return the audit's settings from the application's configuration."""
    config = current_app.config
    batch = int(config["RECORDS_FILES_FIXITY_BATCH"])
    if batch < 1:
        raise ValueError("RECORDS_FILES_FIXITY_BATCH must be at least 1.")
    return FixitySettings(
        interval=_duration(config["RECORDS_FILES_FIXITY_INTERVAL"]),
        batch=batch,
        lease=_duration(config["RECORDS_FILES_FIXITY_LEASE"]),
    )


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


@dataclass(frozen=True)
class Outcome:
    """What reading one file back found."""

    file_id: uuid.UUID
    uri: str
    status: str
    description: str = ""
    checksums: Mapping[str, str] = field(default_factory=dict)
    """Hex digests computed, by algorithm (empty when the read failed)."""
    added: tuple[str, ...] = ()
    """Algorithms computed that were not kept before (kept if it passed)."""
    size: int = 0
    """Bytes read."""

    @property
    def last_check(self) -> Optional[bool]:
        """The value for Files-REST's ``FileInstance.last_check``."""
        if self.status == PASSED:
            return True
        return False if self.status == MISMATCH else None

    @property
    def failed(self) -> bool:
        """Whether the file did not pass."""
        return self.status != PASSED


def _new_hash(algorithm: str) -> Any:
    return hashlib.new(algorithm, usedforsecurity=False)


def read_digests(
    fp: Any, algorithms: Iterable[str], advance: Optional[Callable[[int], None]] = None
) -> tuple[int, dict[str, str]]:
    """Read a stream to its end once; return its size and hex digests.

    The algorithms hash in threads of their own (:class:`~invenio_records_files_ext.storage.digests.Digests`),
    one chunk behind the read: at most two chunks are in memory.
    """
    read = 0
    with Digests({name: _new_hash(name) for name in algorithms}) as digests:
        pending = DONE
        for chunk in iter(lambda: fp.read(READ_SIZE), b""):
            pending.wait()
            pending = digests.update(chunk)
            read += len(chunk)
            if advance is not None:
                advance(len(chunk))
        pending.wait()
    return read, digests.hexdigests()


def _compare(
    file_id: uuid.UUID,
    uri: str,
    expected_size: Optional[int],
    stored: Mapping[str, str],
    size: int,
    computed: Mapping[str, str],
) -> Outcome:
    added = tuple(name for name in computed if name not in stored)
    if expected_size is not None and size != expected_size:
        return Outcome(
            file_id,
            uri,
            MISMATCH,
            "size mismatch: stored {0} bytes, read {1}".format(expected_size, size),
            computed,
            added,
            size,
        )
    wrong = [name for name in stored if computed.get(name) != stored[name].lower()]
    if wrong:
        return Outcome(
            file_id,
            uri,
            MISMATCH,
            "; ".join(
                "{0} mismatch: stored {1}, computed {2}".format(
                    name, stored[name], computed[name]
                )
                for name in wrong
            ),
            computed,
            added,
            size,
        )
    if not stored:
        return Outcome(
            file_id, uri, UNREADABLE, "no checksum stored", computed, added, size
        )
    return Outcome(file_id, uri, PASSED, "", computed, added, size)


@dataclass(frozen=True)
class Reading:
    """What reading one file back needs, taken from the database beforehand."""

    file_id: uuid.UUID
    uri: str
    size: Optional[int]
    stored: Mapping[str, str]
    algorithms: tuple[str, ...]
    storage: Any = None
    problem: str = ""
    """Why the file cannot be read, when known before reading."""


def prepare(fileinstance: FileInstance) -> Reading:
    """Take what reading ``fileinstance`` back needs (this may run SQL)."""
    stored = {
        name.lower(): value for name, value in stored_checksums(fileinstance).items()
    }
    unknown = [name for name in stored if name not in hashlib.algorithms_available]
    algorithms = [name for name in stored if name not in unknown]
    algorithms += [name for name in configured_algorithms() if name not in stored]
    fields = (fileinstance.id, fileinstance.uri, fileinstance.size, stored)
    if unknown:
        return Reading(
            *fields,
            (),
            problem="cannot compare: unsupported algorithm(s) {0}".format(
                ", ".join(unknown)
            ),
        )
    try:
        storage = fileinstance.storage()
    except Exception as error:
        return Reading(*fields, (), problem="no storage: " + describe(error))
    return Reading(*fields, tuple(algorithms), storage)


def read_back(
    reading: Reading, advance: Optional[Callable[[int], None]] = None
) -> Outcome:
    """Read the bytes once; compare them with the stored checksums and size.

    No SQL: call it outside any transaction.
    """
    file_id, uri = reading.file_id, reading.uri
    if reading.problem:
        return Outcome(file_id, uri, UNREADABLE, reading.problem)
    try:
        with reading.storage.open("rb") as fp:
            read, computed = read_digests(fp, reading.algorithms, advance)
    except FileNotFoundError:
        return Outcome(file_id, uri, UNREADABLE, "missing: no bytes at " + uri)
    except Exception as error:
        return Outcome(file_id, uri, UNREADABLE, "unreadable: " + describe(error))
    return _compare(file_id, uri, reading.size, reading.stored, read, computed)


def check_file(
    fileinstance: FileInstance, advance: Optional[Callable[[int], None]] = None
) -> Outcome:
    """Read one file's bytes back; compare them with every stored checksum.

    The read transaction ends before the bytes are read (a large file on
    slow storage holds no snapshot open). Nothing is written here.
    """
    reading = prepare(fileinstance)
    db.session.rollback()
    return read_back(reading, advance)


def record_outcomes(outcomes: Iterable[Outcome], mark: datetime) -> list[Outcome]:
    """Store the outcomes whose file still holds the lease ``mark``; commit.

    One write transaction for a whole batch: on SQLite, where writers take
    turns, workers then wait for each other once per batch, not per file.
    Returns the outcomes stored; the others were dropped because the lease
    ran out and another worker took the file over, or the file is gone.
    """
    by_id = {outcome.file_id: outcome for outcome in outcomes}
    if not by_id:
        return []
    stored = []
    with immediate_transactions():
        try:
            query = select(FileInstance).where(
                FileInstance.id.in_(list(by_id)),
                FileInstance.last_check_at == mark,
            )
            if db.engine.dialect.name == "postgresql":
                query = query.with_for_update(of=FileInstance)
            checked_at = utcnow()
            for fileinstance in db.session.execute(query).scalars():
                outcome = by_id[fileinstance.id]
                fileinstance.last_check = outcome.last_check
                fileinstance.last_check_at = checked_at
                if outcome.status == PASSED and outcome.added:
                    save_checksums(fileinstance, outcome.checksums)
                stored.append(outcome)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return stored


def record_outcome(outcome: Outcome, mark: datetime) -> bool:
    """Store one outcome if its file still holds the lease ``mark``; commit.

    Returns whether it was stored (see :func:`record_outcomes`).
    """
    return bool(record_outcomes([outcome], mark))


def report_failure(outcome: Outcome) -> None:
    """Log a failed check and send :data:`~invenio_records_files_ext.signals.fixity_failed`.

    A receiver that raises is logged; the audit goes on.
    """
    logger.error(
        "Fixity check failed (%s) for file instance %s at %s: %s",
        outcome.status,
        outcome.file_id,
        outcome.uri,
        outcome.description,
    )
    try:
        fixity_failed.send(app_object(), outcome=outcome)
    except Exception:
        logger.exception("A receiver of fixity_failed failed for %s", outcome.file_id)


@dataclass
class AuditSummary:
    """What a run of the audit did (counts only: memory stays constant)."""

    batches: int = 0
    checked: int = 0
    passed: int = 0
    failed: int = 0
    size: int = 0
    completed: int = 0
    """Files that gained the checksums configured since they were stored."""
    lost: int = 0
    """Results dropped because the lease ran out before they were stored."""

    def add(self, outcome: Outcome, stored: bool) -> None:
        """Count one outcome."""
        if not stored:
            self.lost += 1
            return
        self.checked += 1
        self.size += outcome.size
        if outcome.failed:
            self.failed += 1
        else:
            self.passed += 1
            self.completed += bool(outcome.added)


def check_claim(
    claim: Claim,
    summary: AuditSummary,
    on_outcome: Optional[Callable[[Outcome], None]] = None,
) -> None:
    """Read back every file of a claim, then store the results at once.

    Failures are logged and signalled once their results are committed.
    """
    # One query for the batch; the transaction ends before any byte is read.
    # Read in the claim's order: the longest unchecked first.
    order = {file_id: index for index, file_id in enumerate(claim.file_ids)}
    found = db.session.execute(
        select(FileInstance).where(FileInstance.id.in_(claim.file_ids))
    ).scalars()
    readings = [
        prepare(fileinstance)
        for fileinstance in sorted(found, key=lambda row: order[row.id])
    ]
    db.session.rollback()
    outcomes = [read_back(reading) for reading in readings]
    stored = record_outcomes(outcomes, claim.mark)
    kept = {outcome.file_id for outcome in stored}
    for outcome in outcomes:
        summary.add(outcome, outcome.file_id in kept)
    for outcome in stored:
        if outcome.failed:
            report_failure(outcome)
        if on_outcome is not None:
            on_outcome(outcome)


def run_audit(
    max_batches: Optional[int] = None,
    everything: bool = False,
    batch: Optional[int] = None,
    on_outcome: Optional[Callable[[Outcome], None]] = None,
) -> AuditSummary:
    """Claim and check batches until nothing is due (or ``max_batches``).

    :param everything: check every audited file not read back since the
        run began, however recently it was checked before.
    :param batch: files per claim (default ``RECORDS_FILES_FIXITY_BATCH``).
    :param on_outcome: called with each stored :class:`Outcome`.
    """
    config = settings()
    started = utcnow()
    cutoff = started if everything else started - config.interval
    summary = AuditSummary()
    while max_batches is None or summary.batches < max_batches:
        claim = claim_batch(cutoff, batch or config.batch, config.lease)
        if not claim.file_ids:
            break
        summary.batches += 1
        check_claim(claim, summary, on_outcome)
    return summary


def count_due(now: Optional[datetime] = None) -> int:
    """Return how many audited files are due now (one ``COUNT``)."""
    cutoff = (now or utcnow()) - settings().interval
    count = db.session.execute(
        select(func.count()).select_from(FileInstance).where(due(cutoff))
    ).scalar_one()
    db.session.rollback()
    return int(count)


__all__ = (
    "MISMATCH",
    "PASSED",
    "Reading",
    "UNREADABLE",
    "AuditSummary",
    "Claim",
    "FixitySettings",
    "Outcome",
    "audited",
    "check_claim",
    "check_file",
    "claim_batch",
    "count_due",
    "due",
    "last_seen",
    "prepare",
    "read_back",
    "read_digests",
    "stored_bytes",
    "record_outcome",
    "record_outcomes",
    "report_failure",
    "run_audit",
    "settings",
    "utcnow",
)
