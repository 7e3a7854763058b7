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

The audit is in four modules: this one runs it (:func:`run_audit`, a
claim at a time: :func:`check_claim`) and reports failures
(:func:`report_failure`); :mod:`.fixity_schedule` chooses what is due and
claims it; :mod:`.fixity_reading` reads a file back and compares it;
:mod:`.fixity_results` stores and counts the outcomes. Every name of the
four is importable from here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance
from sqlalchemy import select

from ..db.steps import app_object
from ..signals import fixity_failed
from .fixity_reading import (
    MISMATCH,
    PASSED,
    UNREADABLE,
    Outcome,
    Reading,
    check_file,
    prepare,
    read_back,
    read_digests,
)
from .fixity_results import AuditSummary, record_outcome, record_outcomes
from .fixity_schedule import (
    Claim,
    FixitySettings,
    audited,
    claim_batch,
    count_due,
    due,
    last_seen,
    settings,
    stored_bytes,
    utcnow,
)

logger = logging.getLogger(__name__)


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
