"""SQLite that honours savepoints.

Python's ``sqlite3`` driver opens transactions lazily and lets a
``SAVEPOINT`` issued outside a transaction start (and its ``RELEASE``
commit) a transaction of its own, so rolling back later undoes nothing.
Invenio-Files-REST and this library group each change in a savepoint, so
on SQLite call :func:`enable_sqlite_savepoints` on the engine once (the
demo application and the test suite do). PostgreSQL needs nothing.
"""

from sqlalchemy import event


def enable_sqlite_savepoints(engine, wal=False, busy_timeout_ms=30000):
    """Make an SQLite engine begin transactions explicitly.

    :param wal: also switch the database to write-ahead logging, so that
        readers do not block the writer (useful with several processes).
    :param busy_timeout_ms: how long a writer waits for another one.
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_rfx_savepoints", False):
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, connection_record):
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
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")

    engine._rfx_savepoints = True
    # Connections opened before the listeners existed lack the settings.
    engine.dispose()
