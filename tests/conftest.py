"""Shared fixtures: the demo application on SQLite (default) or PostgreSQL.

Set ``SQLALCHEMY_DATABASE_URI`` to run the suite against another database;
``run-tests.sh`` does so with a throwaway PostgreSQL server.
"""

import os
import shutil
import tempfile
import threading
import uuid
from contextlib import contextmanager
from io import BytesIO

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from invenio_db import db as db_
from invenio_files_rest.models import Location
from sqlalchemy import create_engine, event, make_url, text

from examples.app import create_app

collect_ignore_glob = []


def _database_uri(instance):
    return os.environ.get("SQLALCHEMY_DATABASE_URI") or "sqlite:///" + os.path.join(
        instance, "tests.db"
    )


@pytest.fixture(scope="session")
def instance_path():
    """A folder for the test database and storage, removed at the end."""
    path = tempfile.mkdtemp(prefix="rfx-tests-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_uri(instance_path):
    """URI of the database the suite runs on."""
    return _database_uri(instance_path)


@pytest.fixture(scope="session")
def base_config(database_uri, instance_path):
    """Configuration shared by every test application."""
    return dict(
        TESTING=True,
        SERVER_NAME="localhost",
        SQLALCHEMY_DATABASE_URI=database_uri,
        FILES_STORAGE_PATH=os.path.join(instance_path, "files"),
    )


def _reset_schema(app):
    with app.app_context():
        if db_.engine.dialect.name == "postgresql":
            # Start from an empty schema: earlier runs may have left tables.
            with db_.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def app(base_config, instance_path):
    """The application (the demo's, with test configuration)."""
    probe = create_app(dict(base_config), instance_path=instance_path + "/probe")
    _reset_schema(probe)
    application = create_app(dict(base_config), instance_path=instance_path)
    return application


def _clear_tables():
    tables = list(reversed(db_.metadata.sorted_tables))
    if db_.engine.dialect.name == "postgresql":
        names = ", ".join('"{0}"'.format(table.name) for table in tables)
        db_.session.execute(text("TRUNCATE {0} RESTART IDENTITY CASCADE".format(names)))
    else:
        for table in tables:
            db_.session.execute(table.delete())
    db_.session.commit()


@pytest.fixture()
def appctx(app):
    """An application context."""
    with app.app_context():
        yield app


@pytest.fixture()
def db(appctx):
    """The database, empty at the start of the test and emptied after it."""
    with empty_database() as database:
        yield database


@contextmanager
def empty_database():
    """Empty every table, hand over the database, then empty them again."""
    _clear_tables()
    try:
        yield db_
    finally:
        db_.session.rollback()
        db_.session.remove()
        _clear_tables()


@pytest.fixture()
def location(db, tmp_path):
    """A default storage location in a fresh folder."""
    path = tmp_path / "storage"
    path.mkdir()
    loc = Location(name="default", uri=str(path), default=True)
    db.session.add(loc)
    db.session.commit()
    return loc


class IsolatedClient(FlaskClient):
    """A test client that serves each request as a separate client would.

    The tests keep an application context (and its database session) open;
    a request served in the same thread would share that context, its
    session and ``flask.g``. Serving it in its own thread gives it a fresh
    application context and session, as in production. The test's session
    commits before the request (so the request sees the test's changes) and
    is rolled back after it (so the test then reads what the request did).
    """

    def open(self, *args, **kwargs):
        """Serve one request in its own thread."""
        kwargs.setdefault("buffered", True)
        outcome = {}

        def serve():
            try:
                outcome["response"] = super(IsolatedClient, self).open(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - re-raised below
                outcome["error"] = error

        if has_app_context():
            db_.session.commit()
        thread = threading.Thread(target=serve)
        thread.start()
        thread.join()
        if has_app_context():
            db_.session.rollback()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]


@pytest.fixture()
def client(app, location):
    """A test client; the database has a default location."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture()
def record(location):
    """A committed record with a bucket."""
    from invenio_records_files_ext.api import Record

    rec = Record.create({"title": "Test"})
    db_.session.commit()
    return rec


def stream(data=b"Hello, World"):
    """Return a readable stream of ``data``."""
    return BytesIO(data)


@pytest.fixture()
def make_stream():
    """Factory of byte streams."""
    return stream


class QueryCounter:
    """Counts SQL statements sent to the database."""

    def __init__(self):
        """Start at zero."""
        self.statements = []

    def __call__(self, conn, cursor, statement, *args):
        """Record one statement (SQLAlchemy ``before_cursor_execute``)."""
        self.statements.append(statement)

    @property
    def count(self):
        """Number of statements seen."""
        return len(self.statements)


def _statement_counter():
    @contextmanager
    def counting():
        counter = QueryCounter()
        engine = db_.engine
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return counting


@pytest.fixture()
def count_queries(db):
    """Context manager counting the statements run inside it (empty database)."""
    return _statement_counter()


@pytest.fixture()
def count_statements(appctx):
    """Context manager counting statements, leaving the database as it is."""
    return _statement_counter()


@pytest.fixture()
def client_for(app):
    """Factory of isolated test clients that leave the database as it is."""

    def make():
        app.test_client_class = IsolatedClient
        return app.test_client()

    return make


def storage_files(root):
    """Return the set of files under a storage folder."""
    found = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            found.add(os.path.join(dirpath, name))
    return found


#
# Alembic: a fresh database per test
#
OWN_TABLES = ("records_buckets", "records_files_entry")
"""Tables this package's Alembic branch creates."""

ALEMBIC_DEPENDENCIES = ["invenio_files_rest@head", "invenio_records@head"]
"""Branches this package's recipes build on."""


@pytest.fixture()
def alembic_database(database_uri, tmp_path):
    """A fresh, empty database of the suite's kind (SQLite or PostgreSQL)."""
    if not database_uri.startswith("postgresql"):
        yield "sqlite:///" + str(tmp_path / "alembic.db")
        return
    url = make_url(database_uri)
    name = "rfx_alembic_{0}".format(uuid.uuid4().hex[:8])
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE DATABASE {0}".format(name)))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(
            text("DROP DATABASE IF EXISTS {0} WITH (FORCE)".format(name))
        )
    admin.dispose()


def _stand_in_for_other_recipes(alembic):
    """Build other modules' tables from their models and stamp them.

    Their Alembic recipes alter constraints, which SQLite cannot do; this
    package's own recipes run for real on both databases.
    """
    tables = [t for t in db_.metadata.sorted_tables if t.name not in OWN_TABLES]
    db_.metadata.create_all(db_.engine, tables=tables)
    alembic.stamp(ALEMBIC_DEPENDENCIES)


@pytest.fixture()
def alembic_app(alembic_database, tmp_path):
    """An application on :func:`alembic_database`, its context pushed.

    On SQLite the tables of Invenio's other modules already exist (see
    :func:`_stand_in_for_other_recipes`); on PostgreSQL the database is empty.
    """
    from flask import Flask
    from invenio_db import InvenioDB
    from invenio_files_rest import InvenioFilesREST
    from invenio_records import InvenioRecords

    from invenio_records_files_ext import InvenioRecordsFiles
    from invenio_records_files_ext.sqlite import enable_sqlite_savepoints

    application = Flask("alembic")
    application.config.update(
        SQLALCHEMY_DATABASE_URI=alembic_database,
        FILES_STORAGE_PATH=str(tmp_path / "files"),
    )
    InvenioDB(application)
    InvenioRecords(application)
    InvenioFilesREST(application)
    InvenioRecordsFiles(application)
    with application.app_context():
        alembic = application.extensions["invenio-db"].alembic
        if db_.engine.dialect.name == "sqlite":
            enable_sqlite_savepoints(db_.engine)
            _stand_in_for_other_recipes(alembic)
        yield application
        db_.session.remove()
        db_.engine.dispose()


def pytest_terminal_summary(terminalreporter):
    """Print the steps and timings of the browser runs (tests/browser.py)."""
    from tests.browser import RUNS

    if not RUNS:
        return
    terminalreporter.section("deposit page in Chromium: steps and timings")
    for run in RUNS:
        for line in run.lines():
            terminalreporter.write_line(line)
