"""Wiring the files' session hooks: the ledger, the sync watcher, the reconcile.

The listeners are attached once per process to SQLAlchemy's
:class:`~sqlalchemy.orm.Session` class (:func:`install_session_hooks`), so
they follow every session the application uses, however it was made: the
scoped session of Invenio-DB, one made after ``init_app``, one a test
harness swaps in for each test (pytest-invenio's ``db`` fixture), a
replaced ``db.session``. Nothing is registered per session, so no session
can be missed.

Which application a session serves is found when it flushes, from the
application context: object versions flushed by other code are noted (and
their file rows brought in step before commit) only in applications that
use this package (:func:`enable_session_hooks`). The Flask extension
enables its application in ``init_app``; an application that uses the
record API without initialising the extension is enabled by the first
record object of this package made in it (:func:`ensure_session_hooks`).
The ledger itself needs no application: it acts only on what this
package's calls put into a session.
"""

from __future__ import annotations

from typing import Any, Optional

from flask import Flask, current_app, has_app_context

from ..db import ledger
from . import sync


def install_session_hooks() -> None:
    """Attach the ledger, the watcher and the reconcile to every session (idempotent)."""
    ledger.install()
    sync.install()
    ledger.on_before_commit(sync.reconcile)


def enable_session_hooks(app: Flask) -> None:
    """Install the hooks and have them serve ``app``'s sessions (idempotent)."""
    install_session_hooks()
    sync.watch_application(app)


def _current_app() -> Optional[Flask]:
    if not has_app_context():
        return None
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # Flask types the proxy as Flask
    return app


def register_session_hooks(target: Any = None) -> None:
    """Install the hooks and enable the current application (idempotent).

    Kept for applications that called it without the extension; the record
    API now does the same by itself.

    :param target: ignored: the hooks follow every session of the process.
    """
    install_session_hooks()
    app = _current_app()
    if app is not None:
        sync.watch_application(app)


def ensure_session_hooks() -> None:
    """Enable the current application unless done: the record API's first use.

    Costs one dictionary look-up once the application is enabled.
    """
    app = _current_app()
    if app is not None and sync.watches(app):
        return
    install_session_hooks()
    if app is not None:
        sync.watch_application(app)


__all__ = (
    "enable_session_hooks",
    "ensure_session_hooks",
    "install_session_hooks",
    "register_session_hooks",
)
