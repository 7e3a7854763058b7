"""The fixity audit's results: stored in the files' rows, and counted.

* ``record_outcomes()`` (``record_outcome()`` for one): the outcomes
  of a batch stored together, for the files that still hold the worker's
  lease.
* ``AuditSummary``: what a run did, counts only.

Import these names from :mod:`~invenio_records_files_ext.maintenance.fixity`,
where they are documented.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from invenio_db import db
from invenio_files_rest.models import FileInstance
from sqlalchemy import select

from ..db.sqlite import immediate_transactions
from ..storage.checksums import save_checksums
from .fixity_reading import PASSED, Outcome
from .fixity_schedule import utcnow


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


__all__ = ("AuditSummary", "record_outcome", "record_outcomes")
