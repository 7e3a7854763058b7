"""Ending a transaction early, without losing what it holds.

The upload route streams the body with no transaction open, so that a
slow client holds no database connection, no lock and no snapshot. It may
only end the request's transaction if that transaction holds no work: code
that ran earlier in the request (a ``before_request`` hook, an upload
factory, a permission that records an access) may have changed the
session, and rolling back would silently discard it; committing it would
keep it even if the upload then fails. :func:`release_if_read_only` ends
the transaction only when it has done nothing but read, and otherwise
leaves it open, so that the earlier work is committed with the file or
rolled back with it.

A transaction has written when the session holds changes not yet flushed,
when it has flushed some (the listeners of :func:`register` note it), or,
on PostgreSQL, when the server has given it a transaction id (which it
does at the first write, whoever sent it).
"""

from __future__ import annotations

from typing import Any, Optional

from invenio_db import db
from sqlalchemy import event, text
from sqlalchemy.orm import Session

WROTE_KEY = "invenio_records_files_ext.wrote"

_PG_HAS_WRITTEN = text("SELECT txid_current_if_assigned() IS NOT NULL")


def _after_flush(session: Session, flush_context: Any) -> None:
    session.info[WROTE_KEY] = True


def _do_orm_execute(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE_KEY] = True


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(WROTE_KEY, None)


_LISTENERS = (
    ("after_flush", _after_flush),
    ("do_orm_execute", _do_orm_execute),
    ("after_transaction_end", _after_transaction_end),
)


def register(target: Any = None) -> None:
    """Note the writes of a session's transactions (default: Invenio-DB's).

    Idempotent: registering twice changes nothing.
    """
    target = target if target is not None else db.session
    for name, listener in _LISTENERS:
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)


def has_written(session: Optional[Session] = None) -> bool:
    """Tell whether the session's transaction holds changes of its own."""
    session = session if session is not None else db.session()
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    if session.info.get(WROTE_KEY):
        return True
    if session.get_bind().dialect.name == "postgresql":
        return bool(session.execute(_PG_HAS_WRITTEN).scalar())
    return False


def release_if_read_only(session: Optional[Session] = None) -> bool:
    """End the session's transaction if it has only read; return whether it did.

    A transaction that holds changes is left open, changes and all.
    """
    session = session if session is not None else db.session()
    if has_written(session):
        return False
    session.rollback()
    return True


__all__ = ("has_written", "register", "release_if_read_only")
