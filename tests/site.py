"""A real Invenio site, built as docs/site.rst says, for the tests.

Invenio-App's ``create_api`` builds the application from entry points
(Invenio-Accounts, Invenio-Access, Invenio-Files-REST's blueprint and this
package's included) with ``examples/site/invenio.cfg`` in its instance
folder. The database is set up with the ``invenio`` command line: tables
(``alembic upgrade`` on PostgreSQL, ``db create`` on SQLite, whose ALTER
TABLE Invenio's recipes cannot use), the default location, users and the
superuser role.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from unittest import mock

import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE_CONFIG = os.path.join(ROOT, "examples", "site", "invenio.cfg")
PASSWORD = "correct-horse-battery"
USERS = ("owner", "other", "admin")
"""Accounts of the site; ``admin`` has the ``superuser-access`` role."""

TEST_SETTINGS = {
    # The tests speak plain HTTP on loopback: no HTTPS redirect, no
    # secure-only session cookie.
    "APP_ENABLE_SECURE_HEADERS": False,
    "SESSION_COOKIE_SECURE": False,
    "ACCOUNTS_SESSION_STORE_FACTORY": "tests.site:session_store",
}


def session_store(app: Any) -> Any:
    """Sessions in files of the instance folder, shared by server workers.

    A site keeps them in Redis (``ACCOUNTS_SESSION_REDIS_URL``); without
    it Invenio-Accounts keeps them in each worker's memory, and a login
    holds only in the worker that served it.
    """
    from simplekv.fs import FilesystemStore

    folder = os.path.join(app.instance_path, "sessions")
    os.makedirs(folder, exist_ok=True)
    return FilesystemStore(folder)


def email(user: str) -> str:
    """Return the e-mail address of the site's user ``user``."""
    return "{0}@example.org".format(user)


@dataclass
class Site:
    """An instance folder and a database, set up once."""

    instance_path: str
    database_uri: str
    user_ids: dict[str, int] = field(default_factory=dict)

    def environment(self, **settings: Any) -> dict[str, str]:
        """Return the ``INVENIO_*`` variables that point Invenio-App here."""
        env = {
            "INVENIO_INSTANCE_PATH": self.instance_path,
            "INVENIO_SQLALCHEMY_DATABASE_URI": self.database_uri,
        }
        for name, value in {**TEST_SETTINGS, **settings}.items():
            env["INVENIO_" + name] = (
                repr(value) if not isinstance(value, str) else value
            )
        return env

    def create_api(self, **settings: Any) -> Any:
        """Build the site's API application, ``settings`` overriding invenio.cfg."""
        from invenio_app.factory import create_api

        from invenio_records_files_ext.db.sqlite import enable_sqlite_savepoints

        with mock.patch.dict(os.environ, self.environment()):
            app = create_api(**settings)
        from invenio_db import db

        with app.app_context():
            enable_sqlite_savepoints(db.engine)
        return app


@contextmanager
def fresh_database(database_uri: str, folder: str) -> Iterator[str]:
    """Yield the URI of a new, empty database next to ``database_uri``'s."""
    if not database_uri.startswith("postgresql"):
        yield "sqlite:///" + os.path.join(folder, "site.db")
        return
    url = sa.engine.make_url(database_uri)
    name = "rfx_site_{0}".format(uuid.uuid4().hex[:8])
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE {0}".format(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text("DROP DATABASE IF EXISTS {0} WITH (FORCE)".format(name))
            )
        admin.dispose()


def invenio(app: Any, *args: str) -> str:
    """Run ``invenio <args>`` against ``app``; return what it printed."""
    from invenio_app.cli import cli

    result = app.test_cli_runner().invoke(cli, list(args))
    assert result.exit_code == 0, (args, result.output, result.exception)
    output: str = result.output
    return output


def _missing_tables(app: Any) -> set[str]:
    from invenio_db import db

    with app.app_context():
        present = set(sa.inspect(db.engine).get_table_names())
        return {table.name for table in db.metadata.sorted_tables} - present


def set_up(site: Site, app: Any) -> None:
    """Create tables, the default location, the users and the superuser role."""
    if site.database_uri.startswith("postgresql"):
        invenio(app, "alembic", "upgrade")
        # The recipes, this package's included, must make every table.
        assert not _missing_tables(app), _missing_tables(app)
    else:
        invenio(app, "db", "create")
    storage = os.path.join(site.instance_path, "data")
    invenio(app, "files", "location", "create", "--default", "default", storage)
    for user in USERS:
        invenio(
            app,
            "users",
            "create",
            email(user),
            "--password",
            PASSWORD,
            "--active",
            "--confirm",
        )
    invenio(app, "roles", "create", "admin")
    invenio(app, "roles", "add", email("admin"), "admin")
    invenio(app, "access", "allow", "superuser-access", "role", "admin")
    from invenio_accounts.models import User

    with app.app_context():
        for user in USERS:
            site.user_ids[user] = User.query.filter_by(email=email(user)).one().id


@contextmanager
def built_site(database_uri: str, folder: str) -> Iterator[Site]:
    """Yield a :class:`Site` set up in ``folder`` and a fresh database."""
    instance = os.path.join(folder, "instance")
    os.makedirs(instance)
    shutil.copy(SITE_CONFIG, os.path.join(instance, "invenio.cfg"))
    with fresh_database(database_uri, folder) as uri:
        site = Site(instance, uri)
        app = site.create_api()
        set_up(site, app)
        try:
            yield site
        finally:
            from invenio_db import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@dataclass
class SiteRecord:
    """A record created on the site, with what an attacker may learn of it."""

    pid_value: str
    bucket_id: str
    record_id: str
    old_version_id: str


def create_record(
    app: Any, owners: list[int], keys: tuple[str, ...] = ()
) -> SiteRecord:
    """Create a record owned by ``owners`` holding ``data.txt`` (replaced once).

    ``data.txt`` first held ``old``, then ``data``; ``keys`` are more files
    holding their own key.
    """
    from invenio_db import db
    from invenio_pidstore.minters import recid_minter

    from invenio_records_files_ext.api import Record
    from tests.helpers import files_of

    with app.app_context():
        record_id = uuid.uuid4()
        data = {"title": "A record with files", "owners": owners}
        pid = recid_minter(record_id, data)
        record = Record.create(data, id_=record_id)
        files_of(record)["data.txt"] = BytesIO(b"old")
        old = str(files_of(record)["data.txt"].obj.version_id)
        files_of(record)["data.txt"] = BytesIO(b"data")
        for key in keys:
            files_of(record)[key] = BytesIO(key.encode())
        record.commit()
        db.session.commit()
        return SiteRecord(pid.pid_value, str(record.bucket_id), str(record_id), old)
