"""Lifting every embargo whose day has come, record by record.

What ``flask records-files lift-embargoes`` and the Celery task
(:mod:`invenio_records_files_ext.tasks.embargo`) run. Each record is lifted
and committed on its own: one that fails (a hook that refuses, a record
that does not validate) is reported and the others go on.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Optional

from invenio_db import db

from ..access.embargo import due_embargoes, lift_embargo, today_utc
from ..api import Record
from ..errors import describe
from ..settings.current import current

logger = logging.getLogger(__name__)


@dataclass
class LiftFailure:
    """A record whose embargo could not be lifted."""

    record_id: uuid.UUID
    error: str


@dataclass
class LiftReport:
    """What :func:`lift_due_embargoes` did."""

    today: date
    """The day the embargoes were compared with."""

    lifted: list[uuid.UUID] = field(default_factory=list)
    """Records whose embargo was lifted (and committed)."""

    failed: list[LiftFailure] = field(default_factory=list)
    """Records left embargoed because lifting failed."""


def lift_due_embargoes(
    today: Optional[date] = None, record_class: Any = Record
) -> LiftReport:
    """Lift the embargo of every record whose day is ``today`` or earlier.

    :param today: the day to compare with (default: today, UTC).
    :param record_class: the class records are loaded with.
    """
    report = LiftReport(today or today_utc())
    batch = current().embargo.batch_size
    after: Optional[uuid.UUID] = None
    while True:
        ids = due_embargoes(report.today, after=after, limit=batch)
        db.session.rollback()
        for record_id in ids:
            try:
                record = record_class.get_record(record_id)
                if lift_embargo(record, today=report.today):
                    db.session.commit()
                    report.lifted.append(record_id)
                else:
                    db.session.rollback()
            except Exception as error:
                db.session.rollback()
                logger.warning("Embargo of %s not lifted: %s", record_id, error)
                report.failed.append(LiftFailure(record_id, describe(error)))
        if len(ids) < batch:
            return report
        after = ids[-1]


__all__ = ("LiftFailure", "LiftReport", "lift_due_embargoes")
