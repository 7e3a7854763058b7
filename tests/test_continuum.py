"""SQLAlchemy-Continuum's version session opens no savepoint of its own.

Without :mod:`invenio_records_files_ext.db.continuum`, the first versioned
flush of a transaction inside a savepoint (``Record.create()``) left a
savepoint of Continuum's registered on the connection, and releasing the
application's savepoint warned ``nested transaction already deassociated
from connection``. Warnings are errors in the suite; these tests also check
that the versions are still written, inside savepoints and after a
rollback to one.
"""

import os
import subprocess
import sys
import uuid
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db as db_
from invenio_files_rest.models import Location
from invenio_records.models import RecordMetadata
from sqlalchemy import select
from sqlalchemy.exc import SAWarning
from sqlalchemy_continuum import version_class
from sqlalchemy_continuum import versioning_manager as default_manager
from sqlalchemy_continuum.unit_of_work import UnitOfWork

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.db import continuum
from tests.helpers import files_of
from tests.servers import ROOT


def versions_of(record_id: uuid.UUID) -> list[tuple[int, Any]]:
    model = version_class(RecordMetadata)
    return [
        (row.version_id, row.json.get("title"))
        for row in db_.session.execute(
            select(model).where(model.id == record_id).order_by(model.transaction_id)
        ).scalars()
    ]


def open_savepoints() -> int:
    connection = db_.session.connection()
    count, nested = 0, connection._nested_transaction
    while nested is not None:
        count, nested = count + 1, nested._previous_nested
    return count


def test_the_extension_installs_the_joining_unit_of_work(app: Flask) -> None:
    assert default_manager.uow_class is continuum.JoiningUnitOfWork
    assert continuum.install() is True


def test_create_and_update_in_savepoints_warn_nothing(
    db: SQLAlchemy, location: Location
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SAWarning)
        record = Record.create({"title": "first"})
        assert open_savepoints() == 0
        files_of(record)["a.txt"] = BytesIO(b"a")
        db.session.commit()
        # The first versioned flush of this transaction is in a savepoint.
        with db.session.begin_nested():
            record["title"] = "second"
            record.commit()
        assert open_savepoints() == 0
        db.session.commit()
    assert versions_of(record.id) == [(1, "first"), (2, "second")]


def test_a_rolled_back_savepoint_takes_its_version_with_it(
    db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "kept"})
    db.session.commit()
    savepoint = db.session.begin_nested()
    record["title"] = "undone"
    record.commit()
    savepoint.rollback()
    db.session.commit()
    assert versions_of(record.id) == [(1, "kept")]
    assert Record.get_record(record.id)["title"] == "kept"


def test_another_unit_of_work_class_is_left_alone() -> None:
    class Custom(UnitOfWork):  # type: ignore[misc]  # Continuum is untyped
        pass

    class Manager:
        uow_class = Custom

    manager = Manager()
    assert continuum.install(manager) is False
    assert manager.uow_class is Custom


def test_the_demo_in_a_fresh_process_warns_nothing(tmp_path: Path) -> None:
    """As ``flask shell`` would: the demo app, a record with a file, committed."""
    script = (
        "import warnings; warnings.simplefilter('error')\n"
        "from io import BytesIO\n"
        "from invenio_db import db\n"
        "from examples.app import create_app\n"
        "from invenio_records_files_ext.api import Record\n"
        "app = create_app(instance_path={0!r})\n"
        "with app.app_context():\n"
        "    record = Record.create({{'title': 'A dataset'}})\n"
        "    record.files['data.csv'] = BytesIO(b'a,b')\n"
        "    db.session.commit()\n"
        "    print(record.files.keys)\n"
    ).format(str(tmp_path / "instance"))
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("SQLALCHEMY_DATABASE_URI", "FILES_STORAGE_PATH")
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['data.csv']"
    assert "SAWarning" not in result.stderr
