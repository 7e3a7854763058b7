"""Restricted and embargoed files: setting the record's access, lifting embargoes.

The access settings live in the record's JSON
(:mod:`~invenio_records_files_ext.access.restrictions`); these functions change
them and store the record:

* :func:`restrict_files` makes the files restricted or public;
* :func:`set_embargo` restricts the files until a day;
* :func:`lift_embargo` lifts one record's embargo once its day has come:
  the files (and the record, when restricted) become public, the record
  is stored with the change and :data:`~invenio_records_files_ext.signals.embargo_lifted`
  is sent; a receiver that raises cancels the lift;
* :func:`due_embargoes` finds the records whose embargo may be lifted, for
  ``flask records-files lift-embargoes`` and the Celery task
  (:mod:`invenio_records_files_ext.maintenance.embargoes`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Any, Optional

from invenio_db import db
from invenio_records.models import RecordMetadata
from sqlalchemy import and_, select

from .. import signals
from ..db.steps import send_signal, step
from .restrictions import (
    PUBLIC,
    RESTRICTED,
    access_field,
    clear_embargo,
    embargo_of,
    parse_date,
    set_files_access,
    write_embargo,
)


def today_utc() -> date:
    """Return today's date in UTC (embargo days are UTC days)."""
    return datetime.now(tz=timezone.utc).date()


def restrict_files(record: Any, restricted: bool = True) -> Any:
    """Make the record's files restricted (or public again) and store the record.

    An active embargo keeps the files restricted whatever this says; lift
    it with :func:`lift_embargo`.
    """
    set_files_access(record, RESTRICTED if restricted else PUBLIC)
    return record.commit()


def set_embargo(record: Any, until: Any, reason: Optional[str] = None) -> Any:
    """Restrict the record's files until ``until`` and store the record.

    :param until: a :class:`~datetime.date` or ``"YYYY-MM-DD"``; the files
        open on that day (UTC), when the embargo is lifted.
    :param reason: why, for readers of the record.
    :raises invenio_records_files_ext.errors.InvalidAccessError: for a
        value of ``until`` that is not a date.
    """
    write_embargo(record, parse_date(until), reason)
    return record.commit()


def lift_embargo(
    record: Any, today: Optional[date] = None, force: bool = False
) -> bool:
    """Lift the record's embargo if its day has come (or now, with ``force``).

    The record is stored with ``access.embargo.active`` false and its files
    public, and :data:`~invenio_records_files_ext.signals.embargo_lifted`
    is sent, in one step: a receiver that raises leaves the embargo in
    place. The caller commits the transaction.

    :returns: whether the embargo was lifted.
    """
    embargo = embargo_of(record)
    if embargo is None or not embargo.active:
        return False
    if not force and not embargo.due(today or today_utc()):
        return False
    with step():
        clear_embargo(record)
        record.commit()
        send_signal(signals.embargo_lifted, record=record, embargo=embargo)
    return True


def _embargo_value(*path: str) -> Any:
    return RecordMetadata.json[(access_field(), "embargo") + path]


def due_embargoes(
    today: Optional[date] = None, after: Optional[uuid.UUID] = None, limit: int = 500
) -> list[uuid.UUID]:
    """Return ids of records whose active embargo may be lifted on ``today``.

    Soft-deleted records are left out. Results come in id order, ``limit``
    at a time after the id ``after``: the caller pages through them.
    """
    day = (today or today_utc()).isoformat()
    active = _embargo_value("active")
    if db.session.get_bind().dialect.name == "postgresql":
        # ``->>`` gives the text of a JSON boolean; a cast would fail on a
        # record holding some other value there.
        is_active = active.as_string() == "true"
    else:
        is_active = active.as_boolean().is_(True)
    query = (
        select(RecordMetadata.id)
        .where(
            RecordMetadata.json.isnot(None),
            is_active,
            and_(
                _embargo_value("until").as_string().isnot(None),
                _embargo_value("until").as_string() <= day,
            ),
        )
        .order_by(RecordMetadata.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(RecordMetadata.id > after)
    return list(db.session.execute(query).scalars())


__all__ = (
    "due_embargoes",
    "lift_embargo",
    "restrict_files",
    "set_embargo",
    "today_utc",
)
