"""The transaction ledger: what a database transaction owes storage.

Storage is not transactional, so the session keeps a small ledger
(:class:`TransactionState`, in ``session.info``) and settles it when the
transaction ends:

* bytes written during the transaction (*staged*) are deleted again unless
  the transaction commits, so a failed or rolled back upload leaves nothing
  in storage;
* bytes of purged files (*doomed*) are deleted only after the removal has
  been committed, so a rolled back purge loses nothing;
* both follow savepoints: rolling back a savepoint deletes the bytes staged
  in it and cancels the deletions it asked for;
* *touched* keys (object versions that code outside this library changed)
  are handed to the before-commit hooks, which bring the file rows in step;
* *callbacks* to run once the transaction has committed (starting a
  background task that reads what the transaction wrote); rolling back the
  savepoint that registered one cancels it;
* whether the transaction has *written* anything: the upload route streams
  a body with no transaction open only if the request's transaction has
  done nothing but read (:func:`release_if_read_only`), so that work done
  earlier in the request is never discarded.

This module is the bottom layer of the package: it imports nothing from
it. :func:`install` attaches its listeners to SQLAlchemy's
:class:`~sqlalchemy.orm.Session` class, so that they follow every session of
the process, whoever made it and whenever (Invenio-DB's scoped session, one
a test harness swaps in, a plain ``Session(bind=...)``); the Flask
extension calls it from ``init_app`` (see
:mod:`invenio_records_files_ext.files.hooks`). A listener does nothing in a
session whose ledger is empty, and the ledger fills only through this
package's calls, so sessions that never touch it pay a few dictionary
look-ups per flush and commit and send no statement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from invenio_db import db
from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger(__name__)

STATE_KEY = "invenio_records_files_ext"


@dataclass
class HeldBytes:
    """Bytes in storage and the (sub)transaction that decided their fate."""

    owner: Optional[SessionTransaction]
    storage: Any
    """An Invenio-Files-REST storage object (has ``delete()``)."""


@dataclass
class HeldCallback:
    """A callback to run after commit and the (sub)transaction that asked for it."""

    owner: Optional[SessionTransaction]
    callback: Callable[[], None]


@dataclass
class TransactionState:
    """The ledger of one database transaction."""

    staged: dict[Any, HeldBytes] = field(default_factory=dict)
    """File id -> bytes written in this transaction (deleted unless it
    commits)."""

    doomed: list[HeldBytes] = field(default_factory=list)
    """Bytes to delete once the transaction has committed."""

    touched: dict[Any, set[str]] = field(default_factory=dict)
    """Bucket id -> keys whose object versions other code changed."""

    callbacks: list[HeldCallback] = field(default_factory=list)
    """What to run once the transaction has committed."""


BeforeCommitHook = Callable[[Session, TransactionState], None]
"""Called before the outermost commit with the session and its ledger."""

_before_commit_hooks: list[BeforeCommitHook] = []


def current_state(session: Optional[Session] = None) -> TransactionState:
    """Return the ledger of the session's current transaction."""
    session = session if session is not None else db.session()
    state = session.info.get(STATE_KEY)
    if state is None:
        state = session.info[STATE_KEY] = TransactionState()
    return state


def innermost_transaction(session: Session) -> Optional[SessionTransaction]:
    """Return the session's current savepoint, or its transaction.

    ``None`` when the session has not begun one: what is held then belongs
    to no savepoint, so only the end of the transaction settles it.
    """
    return session.get_nested_transaction() or session.get_transaction()


def stage(file_id: Any, storage: Any) -> None:
    """Remember bytes written in this transaction (deleted unless committed).

    If the savepoint they were written in is rolled back, they are deleted
    at once: the rows that would have referenced them are gone.
    """
    session = db.session()
    current_state(session).staged[file_id] = HeldBytes(
        innermost_transaction(session), storage
    )


def unstage(file_id: Any) -> Any:
    """Forget staged bytes, returning their storage object (or ``None``)."""
    held = current_state().staged.pop(file_id, None)
    return held.storage if held else None


def doom(storage: Any) -> None:
    """Delete these bytes from storage once the transaction has committed.

    Rolling back the savepoint (or transaction) that doomed them cancels it.
    """
    session = db.session()
    current_state(session).doomed.append(
        HeldBytes(innermost_transaction(session), storage)
    )


def call_after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the transaction has committed (never if it rolls back).

    The callback runs inside SQLAlchemy's ``after_commit`` event, when the
    session can emit no SQL: it must not use the session (sending a Celery
    task is fine; see :mod:`invenio_records_files_ext.tasks`). Errors it
    raises are logged, never raised: the transaction has committed.
    """
    session = db.session()
    current_state(session).callbacks.append(
        HeldCallback(innermost_transaction(session), callback)
    )


def touch(bucket_id: Any, key: str, session: Optional[Session] = None) -> None:
    """Have ``key``'s file row brought in step with its bucket before commit."""
    current_state(session).touched.setdefault(bucket_id, set()).add(key)


def take_touched(session: Session, bucket_id: Any = None) -> dict[Any, set[str]]:
    """Remove and return touched keys (of one bucket, or of all)."""
    state: Optional[TransactionState] = session.info.get(STATE_KEY)
    if state is None or not state.touched:
        return {}
    if bucket_id is None:
        touched, state.touched = state.touched, {}
        return touched
    keys = state.touched.pop(bucket_id, None)
    return {bucket_id: keys} if keys else {}


def delete_bytes(storage: Any) -> None:
    """Delete bytes from storage, logging instead of raising on failure.

    Failures are not fatal: the bytes are then merely unreferenced, and
    ``flask records-files gc`` finds them on local storage.
    """
    try:
        storage.delete()
    except FileNotFoundError:
        # Already gone: storage backends clean up after failed writes.
        pass
    except Exception:
        logger.warning("Could not delete bytes at %s", storage, exc_info=True)


def on_before_commit(hook: BeforeCommitHook) -> BeforeCommitHook:
    """Register a hook run before every outermost commit (idempotent)."""
    if hook not in _before_commit_hooks:
        _before_commit_hooks.append(hook)
    return hook


def _before_commit(session: Session) -> None:
    # SQLAlchemy also calls this when a savepoint is released.
    if session.in_nested_transaction():
        return
    if not _before_commit_hooks:
        return
    state = session.info.get(STATE_KEY)
    if state is None:
        # SQLAlchemy flushes after this event: what the flush notes (object
        # versions written by other code) must be seen now. A session with
        # nothing pending notes nothing: no flush, no cost.
        if not (session.new or session.deleted or session.dirty):
            return
        session.flush()
        state = session.info.get(STATE_KEY)
        if state is None:
            return
    else:
        session.flush()
    for hook in _before_commit_hooks:
        hook(session, state)


def _after_commit(session: Session) -> None:
    # SQLAlchemy also calls this when a savepoint is released.
    if session.in_nested_transaction():
        return
    state = session.info.get(STATE_KEY)
    if state is None:
        return
    # Committed bytes are now referenced by committed rows: keep them.
    state.staged.clear()
    doomed, state.doomed = state.doomed, []
    for held in doomed:
        delete_bytes(held.storage)
    callbacks, state.callbacks = state.callbacks, []
    for pending in callbacks:
        try:
            pending.callback()
        except Exception:
            logger.exception("A callback after commit failed")


def _within(transaction: Optional[SessionTransaction], ancestor: Any) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        return
    state = session.info.get(STATE_KEY)
    if state is None:
        return
    state.doomed = [
        held for held in state.doomed if not _within(held.owner, previous_transaction)
    ]
    state.callbacks = [
        held
        for held in state.callbacks
        if not _within(held.owner, previous_transaction)
    ]
    for file_id, held in list(state.staged.items()):
        if _within(held.owner, previous_transaction):
            del state.staged[file_id]
            delete_bytes(held.storage)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    session.info.pop(WROTE_KEY, None)
    state = session.info.pop(STATE_KEY, None)
    if state is None:
        return
    # Anything still staged was not committed: its rows are gone, so are
    # the bytes.
    for held in state.staged.values():
        delete_bytes(held.storage)


WROTE_KEY = "invenio_records_files_ext.wrote"

_PG_HAS_WRITTEN = text("SELECT txid_current_if_assigned() IS NOT NULL")


def _note_flush(session: Session, flush_context: Any) -> None:
    session.info[WROTE_KEY] = True


def _note_statement(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE_KEY] = True


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


_LISTENERS = (
    ("after_flush", _note_flush),
    ("do_orm_execute", _note_statement),
    ("before_commit", _before_commit),
    ("after_commit", _after_commit),
    ("after_soft_rollback", _after_soft_rollback),
    ("after_transaction_end", _after_transaction_end),
)


def install() -> None:
    """Attach the ledger's listeners to every session of the process.

    They listen on :class:`sqlalchemy.orm.Session`, the class every session
    derives from: sessions made later, by any session maker, have them too.
    Idempotent: installing twice changes nothing.
    """
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def is_installed() -> bool:
    """Tell whether :func:`install` has run in this process."""
    return all(event.contains(Session, name, listener) for name, listener in _LISTENERS)
