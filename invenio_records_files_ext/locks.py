"""Row locks that serialise writers of one record's files.

Every change to a record's files ends by rewriting the record's ``_files``.
Two transactions doing that at once would each start from the same JSON
and the second commit would lose the first one's change (SQLAlchemy's
version counter would refuse it with a ``StaleDataError``). So the first
file change of a transaction locks the record's row (``SELECT ... FOR
UPDATE`` where the database supports it) and holds the lock until commit:
writers of the same record queue up, writers of different records do not
meet. Bytes are streamed to storage *before* the lock is taken, so a slow
upload never blocks the other writers.
"""

from invenio_db import db
from sqlalchemy import select

from .errors import RecordConflictError, RecordGoneError
from .transaction import current_state


def lock_record_row(model, refresh=False):
    """Lock a record's row until the end of the transaction.

    Once per record and transaction, reads the row's version under the lock
    and compares it with ``model``'s. If another transaction committed a
    change in between, ``model`` is reloaded when ``refresh`` is true (the
    REST routes, which hold no user edits) and
    :class:`~invenio_records_files_ext.errors.RecordConflictError`
    is raised otherwise (a Python caller whose in-memory record is stale).

    :returns: ``None`` if this transaction already held the lock, else
        ``True`` when ``model`` was reloaded and ``False`` when it was
        current.
    """
    session = db.session()
    state = current_state(session)
    if model.id in state.row_locks:
        return None
    model_cls = type(model)
    version = session.execute(
        select(model_cls.version_id).where(model_cls.id == model.id).with_for_update()
    ).scalar()
    if version is None:
        raise RecordGoneError("The record does not exist any more.")
    if version == model.version_id:
        state.row_locks.add(model.id)
        return False
    if not refresh:
        raise RecordConflictError(
            "The record was changed by another transaction; reload it and retry."
        )
    session.refresh(model)
    state.row_locks.add(model.id)
    return True
