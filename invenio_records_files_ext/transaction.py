"""What a database transaction owes the record files when it ends.

Storage is not transactional, so the session keeps a small ledger
(:class:`TransactionState`, in ``session.info``) and settles it when the
transaction ends:

* bytes written during the transaction (*staged*) are deleted again unless
  the transaction commits, so a failed or rolled back upload leaves nothing
  on disk;
* bytes of purged files (*doomed*) are deleted only after the removal has
  been committed, so a rolled back purge loses nothing;
* both follow savepoints: rolling back a savepoint deletes the bytes staged
  in it and cancels the deletions it asked for;
* records whose ``_files`` changed through the API (*dirty*) get their JSON
  written once, just before commit, however many files changed;
* object versions changed by other code in the same transaction (for
  example Invenio-Files-REST's own views or its multipart merge task) are
  *reconciled* into the owning record's ``_files`` before commit.

The listeners are registered on the shared Invenio-DB session when this
module is imported, so they work whether or not the Flask extension was
initialised.
"""

import logging

from invenio_db import db
from invenio_files_rest.models import ObjectVersion
from sqlalchemy import event

logger = logging.getLogger(__name__)

STATE_KEY = "invenio_records_files_ext"
GENERATION_KEY = "invenio_records_files_ext.generation"


class TransactionState:
    """The ledger of one database transaction."""

    def __init__(self):
        """Start with nothing owed."""
        self.dirty = {}
        """Files iterators whose ``_files`` must be written, by ``id()``."""
        self.staged = {}
        """File id -> (savepoint, storage) of bytes written in this
        transaction."""
        self.doomed = []
        """(savepoint, storage) of bytes to delete once the transaction
        commits."""
        self.row_locks = set()
        """Ids of records whose row this transaction has locked."""
        self.touched = {}
        """Bucket id -> keys of object versions flushed in this transaction."""


def current_state(session=None):
    """Return the ledger of the session's current transaction."""
    session = session if session is not None else db.session()
    state = session.info.get(STATE_KEY)
    if state is None:
        state = session.info[STATE_KEY] = TransactionState()
    return state


def generation(session=None):
    """Return a number that changes every time a transaction ends.

    Objects that cache what they read from the database compare it with the
    number they saw to know that a commit or rollback happened since.
    """
    session = session if session is not None else db.session()
    return session.info.get(GENERATION_KEY, 0)


def mark_dirty(files):
    """Ask for ``files.write_json()`` to run before the transaction commits."""
    current_state().dirty[id(files)] = files


def _innermost_transaction(session):
    return session.get_nested_transaction() or session.get_transaction()


def stage(file_id, storage):
    """Remember bytes written in this transaction (deleted unless committed).

    If the savepoint they were written in is rolled back, they are deleted
    at once: the rows that would have referenced them are gone.
    """
    session = db.session()
    current_state(session).staged[file_id] = (
        _innermost_transaction(session),
        storage,
    )


def unstage(file_id):
    """Forget staged bytes, returning their storage object (or ``None``)."""
    entry = current_state().staged.pop(file_id, None)
    return entry[1] if entry else None


def doom(storage):
    """Delete these bytes from storage once the transaction has committed.

    Rolling back the savepoint (or transaction) that doomed them cancels it.
    """
    session = db.session()
    current_state(session).doomed.append((_innermost_transaction(session), storage))


def touch(bucket_id, key):
    """Have ``key``'s entry reconciled with its bucket before commit.

    Flushed object versions are noticed automatically; call this after
    changes the session does not see, such as bulk deletes.
    """
    current_state().touched.setdefault(bucket_id, set()).add(key)


def delete_bytes(storage):
    """Delete bytes from storage, logging instead of raising on failure.

    Failures are not fatal: the bytes are then merely unreferenced. On
    local storage ``flask records-files gc`` reports and removes them; other
    backends need their own listing (the warning names the location).
    """
    try:
        storage.delete()
    except FileNotFoundError:
        # Already gone: storage backends clean up after failed writes.
        pass
    except Exception:  # noqa: BLE001 - storage backends raise anything
        logger.warning("Could not delete bytes at %s", storage, exc_info=True)


def _after_flush(session, flush_context):
    # The session's new/dirty/deleted collections still hold the pre-flush
    # state here, which is exactly what was just written.
    touched = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, ObjectVersion) and obj.bucket_id is not None:
            if touched is None:
                touched = current_state(session).touched
            touched.setdefault(obj.bucket_id, set()).add(obj.key)


def _before_commit(session):
    # SQLAlchemy also calls this when a savepoint is released.
    state = session.info.get(STATE_KEY)
    if state is None or session.in_nested_transaction():
        return
    session.flush()
    if state.touched:
        from .sync import reconcile

        reconcile(session, state)
    for files in list(state.dirty.values()):
        files.write_json()
    state.dirty.clear()


def _after_commit(session):
    # SQLAlchemy also calls this when a savepoint is released.
    state = session.info.get(STATE_KEY)
    if state is None or session.in_nested_transaction():
        return
    # Committed bytes are now referenced by committed rows: keep them.
    state.staged.clear()
    doomed, state.doomed = state.doomed, []
    for _, storage in doomed:
        delete_bytes(storage)


def _within(transaction, ancestor):
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(session, previous_transaction):
    if not previous_transaction.nested:
        return
    state = session.info.get(STATE_KEY)
    if state is None:
        return
    state.doomed = [
        (owner, storage)
        for owner, storage in state.doomed
        if not _within(owner, previous_transaction)
    ]
    for file_id, (owner, storage) in list(state.staged.items()):
        if _within(owner, previous_transaction):
            del state.staged[file_id]
            delete_bytes(storage)


def _after_transaction_end(session, transaction):
    if transaction.parent is not None or transaction.nested:
        return
    session.info[GENERATION_KEY] = session.info.get(GENERATION_KEY, 0) + 1
    state = session.info.pop(STATE_KEY, None)
    if state is None:
        return
    # Anything still staged was not committed: its rows are gone, so are
    # the bytes.
    for _, storage in state.staged.values():
        delete_bytes(storage)


_LISTENERS = (
    ("after_flush", _after_flush),
    ("before_commit", _before_commit),
    ("after_commit", _after_commit),
    ("after_soft_rollback", _after_soft_rollback),
    ("after_transaction_end", _after_transaction_end),
)


def register_listeners(target=None):
    """Attach the ledger's listeners to a session (default: Invenio-DB's)."""
    target = target if target is not None else db.session
    for name, listener in _LISTENERS:
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)


register_listeners()
