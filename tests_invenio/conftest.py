"""pytest-invenio's fixtures, as Invenio modules use them.

These tests run on their own (``run-tests.sh``):

    python -m pytest -p flask -p invenio tests_invenio

The main suite turns both plugins off (``pyproject.toml``) so that their
fixtures (``app``, ``db``, ``location``...) and autouse hooks never meet
``tests/conftest.py``'s. Here everything comes from pytest-invenio:
``base_app`` built by :func:`create_app`, ``database`` (tables created once
per module), ``db`` (a new scoped session per test, in a transaction
rolled back after it), ``location`` (a module-wide default location) and
``app``. The database is ``SQLALCHEMY_DATABASE_URI`` when set, else a SQLite
file in pytest-invenio's instance folder.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from invenio_db import InvenioDB
from invenio_files_rest import InvenioFilesREST
from invenio_pidstore import InvenioPIDStore
from invenio_records import InvenioRecords

from invenio_records_files_ext import InvenioRecordsFiles
from invenio_records_files_ext.db.sqlite import init_sqlite_app


def make_app(
    instance_path: str, config: Mapping[str, Any], with_extension: bool = True
) -> Flask:
    """Return an application as an Invenio module's tests build it.

    :param with_extension: initialise this package's extension (Invenio
        applications built from entry points do); without it, only the
        record API is used, as Invenio-Previewer's tests do.
    """
    app = Flask("rfx_pytest_invenio", instance_path=instance_path)
    app.config.update(config)
    InvenioDB(app)
    InvenioRecords(app)
    InvenioPIDStore(app)
    InvenioFilesREST(app)
    if with_extension:
        InvenioRecordsFiles(app)
    # What the docs ask of applications on SQLite (savepoints that work).
    init_sqlite_app(app)
    return app


@pytest.fixture(scope="module")
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """pytest-invenio's configuration, plus what the files need."""
    app_config.update(
        # No broker here: nothing in these tests sends a task.
        BROKER_URL="memory://",
        CELERY_BROKER_URL="memory://",
        CELERY_TASK_ALWAYS_EAGER=True,
    )
    return app_config


@pytest.fixture(scope="module")
def create_app(instance_path: str) -> Callable[..., Flask]:
    """Application factory for pytest-invenio's ``base_app``."""

    def factory(**config: Any) -> Flask:
        return make_app(instance_path, config)

    return factory


@pytest.fixture(scope="module")
def search() -> Iterator[None]:
    """No search cluster: records are read from the database.

    pytest-invenio's ``app`` fixture asks for one; the files need none.
    """
    yield None
