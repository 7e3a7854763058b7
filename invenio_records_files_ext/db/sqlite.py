"""SQLite that honours savepoints and lets concurrent writers wait their turn.

Python's ``sqlite3`` driver opens transactions lazily and lets a
``SAVEPOINT`` issued outside a transaction start (and its ``RELEASE``
commit) a transaction of its own, so rolling back later undoes nothing.
Invenio-Files-REST and this library group each change in a savepoint, so
on SQLite call :func:`enable_sqlite_savepoints` on the engine once.
PostgreSQL needs nothing.

A second problem appears with several processes (gunicorn workers): a
transaction that has read (``BEGIN``, then ``SELECT``) cannot become a
writer while another connection writes. SQLite then answers "database is
locked" at once, without waiting for the busy timeout, because waiting
could not help: the reader's snapshot is already stale. Transactions that
will write must say so when they begin (``BEGIN IMMEDIATE``): they then
queue for the write lock, within the busy timeout, before reading anything.
:func:`init_sqlite_app` does both for a Flask application, in one call:
transactions of ``POST``, ``PUT``, ``PATCH`` and ``DELETE`` requests begin
``IMMEDIATE``; other code can ask for the same with
:func:`immediate_transactions`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, request
from sqlalchemy import Connection, event

WRITE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
"""HTTP methods whose transactions begin ``IMMEDIATE`` (see :func:`init_sqlite_app`)."""

_writing: ContextVar[bool] = ContextVar("rfx_sqlite_writing", default=False)


@contextmanager
def immediate_transactions() -> Iterator[None]:
    """Begin the SQLite transactions opened inside the block as writers.

    Use it around code outside requests (scripts, tasks) that reads, then
    writes, while other processes write to the same database. It changes
    nothing on engines not prepared by :func:`enable_sqlite_savepoints`.
    """
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def enable_sqlite_savepoints(
    engine: Any, wal: bool = False, busy_timeout_ms: int = 30000
) -> None:
    """Make an SQLite engine begin transactions explicitly.

    Transactions begin with ``BEGIN``, or with ``BEGIN IMMEDIATE`` inside
    :func:`immediate_transactions` (and write requests of applications set
    up by :func:`init_sqlite_app`).

    :param wal: also switch the database to write-ahead logging, so that
        readers do not block the writer (useful with several processes).
    :param busy_timeout_ms: how long a writer waits for another one.
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_rfx_savepoints", False):
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = {0:d}".format(busy_timeout_ms))
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            # With a write-ahead log, syncing at checkpoints only is safe
            # from corruption; a commit then does not force the whole disk's
            # pending writes (the bytes of a large upload) out with it.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock now, waiting for it within the busy
        # timeout, so that the transaction never has to upgrade later.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _writing.get() else "BEGIN")

    engine._rfx_savepoints = True
    # Connections opened before the listeners existed lack the settings.
    engine.dispose()


def _mark_write_request() -> None:
    _writing.set(request.method in WRITE_METHODS)


def _unmark_request(error: Any = None) -> None:
    _writing.set(False)


def init_sqlite_app(
    app: Flask, wal: bool = False, busy_timeout_ms: int = 30000
) -> None:
    """Prepare an application whose database is SQLite, in one call.

    Calls :func:`enable_sqlite_savepoints` on the application's engine and
    installs request hooks so that every transaction of a ``POST``,
    ``PUT``, ``PATCH`` or ``DELETE`` request begins ``IMMEDIATE``: several
    processes writing at once then wait for each other instead of failing
    with "database is locked". Call it after Invenio-DB is initialised, and
    before the database is used. It does nothing on other databases.
    """
    from invenio_db import db

    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "sqlite":
            return
        enable_sqlite_savepoints(engine, wal=wal, busy_timeout_ms=busy_timeout_ms)
    if app.extensions.get("rfx-sqlite-writers"):
        return
    # First of the hooks: one that runs before it may already read.
    app.before_request_funcs.setdefault(None, []).insert(0, _mark_write_request)
    app.teardown_request(_unmark_request)
    app.extensions["rfx-sqlite-writers"] = True


__all__ = (
    "WRITE_METHODS",
    "enable_sqlite_savepoints",
    "immediate_transactions",
    "init_sqlite_app",
)
