"""Fixtures: the test application on SQLite (default) or PostgreSQL.

Set ``SQLALCHEMY_DATABASE_URI`` to run the suite against another database;
``run-tests.sh`` does so with a throwaway PostgreSQL server. Only fixtures
live here: what test modules share as plain code is in ``tests/helpers.py``.
"""

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import Result
from flask import Flask
from flask_celeryext._mapping import FLASK_TO_CELERY_MAPPING
from flask_celeryext.app import map_invenio_to_celery
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db as db_
from invenio_files_rest.models import Location
from invenio_s3 import InvenioS3
from sqlalchemy import create_engine, make_url, text

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.cli import records_files
from tests import browser
from tests.app import app_config, create_test_app
from tests.helpers import (
    ALEMBIC_DEPENDENCIES,
    OWN_TABLES,
    BucketRecord,
    IsolatedClient,
    QueryCounter,
    counting_statements,
    empty_database,
    reset_schema,
    stream,
)
from tests.httpserver import SourceServer
from tests.s3server import (
    S3_TEST_PART_SIZE,
    MotoServer,
    free_port,
    new_bucket_name,
    remove_bucket,
)
from tests.servers import Server, stop_process_group
from tests.users import owner_permissions

collect_ignore_glob: list[str] = []


def _database_uri(instance: str) -> str:
    return os.environ.get("SQLALCHEMY_DATABASE_URI") or "sqlite:///" + os.path.join(
        instance, "tests.db"
    )


@pytest.fixture(scope="session")
def instance_path() -> Iterator[str]:
    """A folder for the test database and storage, removed at the end."""
    path = tempfile.mkdtemp(prefix="rfx-tests-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_uri(instance_path: str) -> str:
    """URI of the database the suite runs on."""
    return _database_uri(instance_path)


@pytest.fixture(scope="session")
def base_config(database_uri: str, instance_path: str) -> dict[str, Any]:
    """What every application of the suite overrides: database, storage, tests."""
    return dict(
        TESTING=True,
        SERVER_NAME="localhost",
        SQLALCHEMY_DATABASE_URI=database_uri,
        FILES_STORAGE_PATH=os.path.join(instance_path, "files"),
    )


@pytest.fixture(scope="session")
def test_app(database_uri: str, instance_path: str) -> Flask:
    """The test application (``tests/app.py``), its tables created."""
    application = create_test_app(
        app_config(database_uri, instance_path), instance_path=instance_path
    )
    with application.app_context():
        reset_schema()
        db_.create_all()
    return application


@pytest.fixture(autouse=True)
def celery_of_the_test_app(request: pytest.FixtureRequest) -> Iterator[None]:
    """Point Celery at the configuration of the application the test uses.

    Flask-CeleryExt configures one Celery application per process: each
    Flask application created reconfigures it (broker, eager mode). Tests
    create several (the site's, S3's...); the last one would otherwise
    decide where a test's tasks go.
    """
    for name in ("s3_app", "app"):
        if name in request.fixturenames:
            application = request.getfixturevalue(name)
            extension = application.extensions.get("flask-celeryext")
            if extension is not None:
                extension.celery.config_from_object(
                    map_invenio_to_celery(application.config, FLASK_TO_CELERY_MAPPING)
                )
                extension.celery.flask_app = application
            break
    yield


@pytest.fixture(scope="session")
def app(test_app: Flask) -> Flask:
    """The application the tests run on: :func:`test_app`.

    A test module about the demo overrides it with :func:`demo_app`.
    """
    return test_app


@pytest.fixture(scope="session")
def demo_app(test_app: Flask, base_config: dict[str, Any], instance_path: str) -> Flask:
    """The demo application (``examples/app.py``), for the tests about the demo.

    It shares the test database with :func:`test_app`, which it depends on
    so that the tables exist (and, on PostgreSQL, the schema is reset) first.
    """
    from examples.app import create_app

    return create_app(
        dict(base_config), instance_path=os.path.join(instance_path, "demo")
    )


@pytest.fixture()
def appctx(app: Flask) -> Iterator[Flask]:
    """An application context."""
    with app.app_context():
        yield app


@pytest.fixture()
def db(appctx: Flask) -> Iterator[SQLAlchemy]:
    """The database, empty at the start of the test and emptied after it."""
    with empty_database() as database:
        yield database


@pytest.fixture()
def location(db: SQLAlchemy, tmp_path: Path) -> Location:
    """A default storage location in a fresh folder."""
    path = tmp_path / "storage"
    path.mkdir()
    loc = Location(name="default", uri=str(path), default=True)
    db.session.add(loc)
    db.session.commit()
    return loc


@pytest.fixture()
def client(app: Flask, location: Location) -> IsolatedClient:
    """A test client; the database has a default location."""
    app.test_client_class = IsolatedClient
    return cast(IsolatedClient, app.test_client())


@pytest.fixture()
def record(location: Location) -> BucketRecord:
    """A committed record with a bucket."""

    rec = Record.create({"title": "Test"})
    db_.session.commit()
    return cast(BucketRecord, rec)


@pytest.fixture()
def make_stream() -> Callable[..., BytesIO]:
    """Factory of byte streams."""
    return stream


@pytest.fixture()
def count_queries(db: SQLAlchemy) -> Callable[[], AbstractContextManager[QueryCounter]]:
    """Context manager counting the statements run inside it (empty database)."""
    return counting_statements


@pytest.fixture()
def count_statements(
    appctx: Flask,
) -> Callable[[], AbstractContextManager[QueryCounter]]:
    """Context manager counting statements, leaving the database as it is."""
    return counting_statements


@pytest.fixture()
def client_for(app: Flask) -> Callable[[], IsolatedClient]:
    """Factory of isolated test clients that leave the database as it is."""

    def make() -> IsolatedClient:
        app.test_client_class = IsolatedClient
        return cast(IsolatedClient, app.test_client())

    return make


#
# Alembic: a fresh database per test
#
@pytest.fixture()
def alembic_database(database_uri: str, tmp_path: Path) -> Iterator[str]:
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


def _stand_in_for_other_recipes(alembic: Any) -> None:
    """Build other modules' tables from their models and stamp them.

    Their Alembic recipes alter constraints, which SQLite cannot do; this
    package's own recipes run for real on both databases.
    """
    tables = [t for t in db_.metadata.sorted_tables if t.name not in OWN_TABLES]
    db_.metadata.create_all(db_.engine, tables=tables)
    alembic.stamp(ALEMBIC_DEPENDENCIES)


@pytest.fixture()
def alembic_app(alembic_database: str, tmp_path: Path) -> Iterator[Flask]:
    """An application on :func:`alembic_database`, its context pushed.

    On SQLite the tables of Invenio's other modules already exist (see
    :func:`_stand_in_for_other_recipes`); on PostgreSQL the database is empty.
    """
    from flask import Flask
    from invenio_db import InvenioDB
    from invenio_files_rest import InvenioFilesREST
    from invenio_records import InvenioRecords

    from invenio_records_files_ext import InvenioRecordsFiles
    from invenio_records_files_ext.db.sqlite import enable_sqlite_savepoints

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the steps and timings of the browser runs (tests/browser.py)."""
    from tests.browser import RUNS

    if not RUNS:
        return
    terminalreporter.section("deposit page in Chromium: steps and timings")
    for run in RUNS:
        for line in run.lines():
            terminalreporter.write_line(line)


#
# S3: a moto server on loopback, an application storing in it
#
@pytest.fixture(scope="session")
def s3_server(instance_path: str) -> Iterator[MotoServer]:
    """A moto S3 server on a free loopback port, for the whole session."""
    server = MotoServer(instance_path).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(s3_server: MotoServer) -> Any:
    """A boto3 client of the S3 server, to look behind the application's back."""
    return s3_server.client()


@pytest.fixture(scope="session")
def s3_app(
    app: Flask, database_uri: str, instance_path: str, s3_server: MotoServer
) -> Flask:
    """A test application storing its bytes in S3.

    It has its own instance path but shares the test database with ``app``,
    which it depends on so that, on PostgreSQL, the schema is reset first.
    """
    s3_instance = os.path.join(instance_path, "s3")
    config = dict(
        app_config(database_uri, s3_instance),
        # Parts smaller than S3's 5 MiB minimum: invenio-s3 writes the parts
        # of an upload into one object, not as S3 multipart parts.
        FILES_REST_MULTIPART_CHUNKSIZE_MIN=S3_TEST_PART_SIZE,
        **s3_server.app_config(),
    )
    application = create_test_app(config, instance_path=s3_instance)
    # The test application initialises its extensions by hand, not from
    # entry points.
    InvenioS3(application)
    application.test_client_class = IsolatedClient
    return application


@pytest.fixture()
def s3_db(s3_app: Flask) -> Iterator[SQLAlchemy]:
    """The database, in an S3 application context; emptied before and after."""
    with s3_app.app_context(), empty_database() as database:
        yield database


@pytest.fixture()
def s3_bucket(s3: Any) -> Iterator[str]:
    """A fresh, empty S3 bucket, removed with its contents after the test."""
    name = new_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    remove_bucket(s3, name)


@pytest.fixture()
def s3_location(s3_db: SQLAlchemy, s3_bucket: str) -> Location:
    """The default location, in the test's S3 bucket."""
    location = Location(name="s3", uri="s3://" + s3_bucket, default=True)
    s3_db.session.add(location)
    s3_db.session.commit()
    return location


@pytest.fixture()
def s3_client(s3_app: Flask, s3_location: Location) -> IsolatedClient:
    """A test client of the S3 application (one thread per request)."""
    return cast(IsolatedClient, s3_app.test_client())


@pytest.fixture()
def secured(
    app: Flask, client: IsolatedClient, monkeypatch: pytest.MonkeyPatch
) -> IsolatedClient:
    """A client of the application with owner-only permissions."""
    owner_permissions(monkeypatch, app)
    return client


@pytest.fixture()
def cli(app: Flask) -> Callable[..., Result]:
    """Run ``flask records-files ARGS...``; return click's result."""
    runner = app.test_cli_runner()

    def invoke(*args: object) -> Result:
        return runner.invoke(records_files, [str(arg) for arg in args])

    return invoke


@pytest.fixture(scope="module")
def source() -> Iterator[SourceServer]:
    """The HTTP source on loopback."""
    server = SourceServer(delay=0.05).start()
    yield server
    server.stop()


@pytest.fixture()
def fetching(
    app: Flask, source: SourceServer, monkeypatch: pytest.MonkeyPatch
) -> SourceServer:
    """Let fetches reach the source on loopback (eager Celery)."""
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_ALLOWED_HOSTS", ["127.0.0.1"])
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES", True)
    monkeypatch.setitem(
        app.config, "RECORDS_FILES_REMOTE_ALLOWED_HOSTS", ["*.example.org"]
    )
    assert app.config["CELERY_TASK_ALWAYS_EAGER"]
    return source


#
# The deposit page: the demo under gunicorn, headless Chromium
#
@pytest.fixture(scope="module")
def page_server(
    app: Flask, base_config: dict[str, Any], instance_path: str
) -> Iterator[Server]:
    """The demo under gunicorn (two workers), on the suite's database."""
    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "page"),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server("gunicorn", env)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium, or a skip that says what is missing."""
    reason = browser.why_no_browser()
    if reason:
        pytest.skip(reason)
    started = browser.start_chromium(str(tmp_path_factory.mktemp("chromium-profile")))
    yield started
    started.quit()


@pytest.fixture()
def page_url(driver: Any, page_server: Server, location: Location) -> str:
    """Base URL of the demo for the page; empty database with a location.

    The browser's window has its usual size, blocks no request and its
    console is read from here on.
    """
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    driver.set_window_size(*browser.WINDOW)
    # The console's messages so far are earlier tests'.
    driver.get_log("browser")
    return page_server.url


#
# Redis: the broker of the real Celery workers (tests/workers.py)
#
@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis broker on loopback.

    ``run-tests.sh`` starts Redis on loopback (``scripts/redis.sh``) and
    names it in ``RFX_REDIS_URL``; without it the fixture starts
    ``redis-server`` itself when it is installed, and skips the test
    (saying why) when it is not.
    """
    url = os.environ.get("RFX_REDIS_URL")
    if url:
        yield url
        return
    if shutil.which("redis-server") is None:
        pytest.skip(
            "No Redis broker: redis-server is not installed (run-tests.sh "
            "installs Debian's package) and RFX_REDIS_URL is not set."
        )
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.5)
    yield "redis://127.0.0.1:{0}/0".format(port)
    stop_process_group(process)
