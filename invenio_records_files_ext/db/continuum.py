"""SQLAlchemy-Continuum's version session, joined to the transaction it finds.

Invenio-DB versions records with SQLAlchemy-Continuum. For each connection
Continuum keeps a second session, the *version session*, bound to the
connection the application's session uses; it writes the ``transaction``
row and the version rows there during the application's flush.

Under SQLAlchemy 2.0 a session bound to a connection that is inside a
``SAVEPOINT`` opens a savepoint of its own when it first uses the
connection (``join_transaction_mode="conditional_savepoint"``, the default).
Continuum never releases that savepoint. When the first versioned flush of
a transaction happens inside a savepoint (``Record.create()`` and
``Record.commit()`` of Invenio-Records flush inside ``begin_nested()``, and
so does this package), the application's savepoint is released while
Continuum's, opened after it, is still registered on the connection, and
SQLAlchemy warns: ``SAWarning: nested transaction already deassociated from
connection``. The version rows are right (releasing the outer savepoint
releases the inner one in the database), but the warning appears on every
database, in every process, and says that SQLAlchemy's bookkeeping of the
connection is off.

:class:`JoiningUnitOfWork` creates the version session with
``join_transaction_mode="rollback_only"``: it writes in whatever
transaction or savepoint the connection is in, as Continuum intends, and
opens none. Continuum never commits its version session, so nothing else
changes (SQLAlchemy-Continuum issue 392 describes the same cause).
:func:`install` puts it in Continuum's manager; the Flask extension calls
it from ``init_app``.
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy.orm import Session
from sqlalchemy_continuum import versioning_manager as default_manager
from sqlalchemy_continuum.unit_of_work import UnitOfWork


class JoiningUnitOfWork(UnitOfWork):  # type: ignore[misc]  # Continuum is untyped
    """Continuum's unit of work, whose version session opens no savepoint."""

    version_session: Optional[Session]
    current_transaction: Any

    def _join(self, session: Session) -> None:
        if self.version_session is None:
            self.version_session = Session(
                bind=session.connection(), join_transaction_mode="rollback_only"
            )

    def process_before_flush(self, session: Session) -> None:
        """Create the version session (joined), then do what Continuum does."""
        if session is not self.version_session:
            self._join(session)
        super().process_before_flush(session)

    def process_after_flush(self, session: Session) -> None:
        """Create the version session (joined) if needed, then version."""
        if session is not self.version_session and self.current_transaction:
            self._join(session)
        super().process_after_flush(session)


def install(manager: Optional[Any] = None) -> bool:
    """Make ``manager`` (default: Continuum's own) use :class:`JoiningUnitOfWork`.

    Idempotent. A manager given another unit of work class than
    Continuum's is left alone: that class decides.

    :returns: whether the manager now uses :class:`JoiningUnitOfWork`.
    """
    manager = manager if manager is not None else default_manager
    if manager.uow_class is UnitOfWork:
        manager.uow_class = JoiningUnitOfWork
    return manager.uow_class is JoiningUnitOfWork


__all__ = ("JoiningUnitOfWork", "install")
