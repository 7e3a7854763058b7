"""The session hooks follow every session the application uses.

The ledger (bytes of failed uploads deleted), the watcher (object versions
written by other code noted) and the before-commit reconcile (their file
rows brought in step) listen on SQLAlchemy's ``Session`` class, and find
the application from the context a session flushes in. Each test below
makes a session the old per-session registration missed.
"""

import os
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, Optional

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import InvenioDB
from invenio_db import db as db_
from invenio_files_rest import InvenioFilesREST
from invenio_files_rest.models import Bucket, Location, ObjectVersion
from invenio_pidstore import InvenioPIDStore
from invenio_records import InvenioRecords
from sqlalchemy import event
from sqlalchemy.orm import Session

from invenio_records_files_ext import signals
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.db import ledger
from invenio_records_files_ext.db.sqlite import enable_sqlite_savepoints
from invenio_records_files_ext.files import hooks, queries, sync
from tests.helpers import BucketRecord, counting_statements, files_of, storage_files


def row_keys(bucket_id: Any, session: Optional[Session] = None) -> list[str]:
    return [row.key for row in queries.iterate_rows(bucket_id, session=session)]


def refused_upload(record: BucketRecord, key: str) -> ValueError:
    """Store a file that a hook refuses; return the exception raised."""

    def refuse(sender: Any, record: BucketRecord, file: Any) -> None:
        raise ValueError("refused")

    signals.file_added.connect(refuse)
    try:
        with pytest.raises(ValueError) as raised:
            record.files[key] = BytesIO(b"r" * 500)
    finally:
        signals.file_added.disconnect(refuse)
    return raised.value


def test_listeners_are_on_the_session_class(app: Flask) -> None:
    assert ledger.is_installed()
    assert event.contains(Session, "after_flush", sync._watch)
    assert not hasattr(hooks, "_registered")
    assert sync.watches(app)


def test_a_session_made_after_init_app(db: SQLAlchemy, location: Location) -> None:
    record: BucketRecord = Record.create({"title": "t"})
    files_of(record)["a.txt"] = BytesIO(b"a")
    db.session.commit()
    bucket_id, file_id = record.bucket.id, files_of(record)["a.txt"].file_id
    # Neither Invenio-DB's session nor one of its session maker's.
    with Session(bind=db.engine) as session:
        bucket = session.get(Bucket, bucket_id)
        session.add(
            ObjectVersion(bucket=bucket, key="b.txt", is_head=True, file_id=file_id)
        )
        session.commit()
    db.session.rollback()  # a new snapshot: the other session committed
    assert row_keys(bucket_id) == ["a.txt", "b.txt"]
    assert Record.get_record(record.id).files.keys == ["a.txt", "b.txt"]


def test_db_session_replaced(db: SQLAlchemy, location: Location) -> None:
    original = db_.session
    db_.session = db_._make_scoped_session({})
    try:
        assert db_.session is not original
        record: BucketRecord = Record.create({"title": "t"})
        ObjectVersion.create(record.bucket, "a.txt", stream=BytesIO(b"a"))
        db_.session.commit()
        assert row_keys(record.bucket.id) == ["a.txt"]
        before = storage_files(location.uri)
        refused_upload(record, "refused.bin")
        files_of(record)["rolled-back.bin"] = BytesIO(b"b" * 500)
        db_.session.rollback()
        assert storage_files(location.uri) == before
    finally:
        db_.session.remove()
        db_.session = original


def test_a_harness_session_in_an_outer_transaction(
    db: SQLAlchemy, location: Location
) -> None:
    """What pytest-invenio's ``db`` fixture does (tests_invenio/ uses it for real)."""
    original = db_.session
    connection = db_.engine.connect()
    outer = connection.begin()
    db_.session = db_._make_scoped_session(
        dict(bind=connection, join_transaction_mode="create_savepoint", binds={})
    )
    try:
        db_.session.add(Location(name="harness", uri=location.uri, default=False))
        record = Record.create({"title": "t"})
        ObjectVersion.create(record.bucket, "a.txt", stream=BytesIO(b"a"))
        db_.session.commit()
        assert Record.get_record(record.id).files.keys == ["a.txt"]
        before = storage_files(location.uri)
        files_of(record)["rolled-back.bin"] = BytesIO(b"b" * 500)
        db_.session.rollback()
        assert storage_files(location.uri) == before
    finally:
        db_.session.remove()
        outer.rollback()
        connection.close()
        db_.session = original


@pytest.fixture()
def files_only_app(tmp_path: Path) -> Iterator[Flask]:
    """A second application in the process, without this package or its tables."""
    other = Flask("files-only", instance_path=str(tmp_path))
    other.config.update(
        SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "other.db"),
        FILES_STORAGE_PATH=str(tmp_path / "files"),
    )
    InvenioDB(other)
    InvenioFilesREST(other)
    with other.app_context():
        enable_sqlite_savepoints(db_.engine)
        tables = [t for t in db_.metadata.sorted_tables if t.name.startswith("files_")]
        db_.metadata.create_all(db_.engine, tables=tables)
        db_.session.add(
            Location(name="other", uri=str(tmp_path / "storage"), default=True)
        )
        db_.session.commit()
        yield other
        db_.session.remove()
        db_.engine.dispose()


def test_two_applications_in_one_process(
    app: Flask, files_only_app: Flask, location: Location
) -> None:
    assert not sync.watches(files_only_app)
    with files_only_app.app_context():
        bucket = Bucket.create()
        with counting_statements() as counter:
            ObjectVersion.create(bucket, "x.txt", stream=BytesIO(b"x"))
            db_.session.commit()
        # Nothing noted, nothing of this package's tables asked for.
        assert not any("records_" in sql for sql in counter.statements)
        assert ObjectVersion.get(bucket, "x.txt") is not None
    with app.app_context():
        record: BucketRecord = Record.create({"title": "t"})
        ObjectVersion.create(record.bucket, "y.txt", stream=BytesIO(b"y"))
        db_.session.commit()
        assert row_keys(record.bucket.id) == ["y.txt"]
        db_.session.remove()


@pytest.fixture()
def app_without_extension(
    app: Flask, database_uri: str, tmp_path: Path, location: Location
) -> Iterator[Flask]:
    """An application on the test database that never initialises the extension."""
    bare = Flask("no-extension", instance_path=str(tmp_path))
    bare.config.update(
        SQLALCHEMY_DATABASE_URI=database_uri,
        FILES_STORAGE_PATH=str(tmp_path / "files"),
    )
    InvenioDB(bare)
    InvenioRecords(bare)
    InvenioPIDStore(bare)
    InvenioFilesREST(bare)
    with bare.app_context():
        enable_sqlite_savepoints(db_.engine)
        yield bare
        db_.session.remove()
        db_.engine.dispose()


def test_record_api_without_the_extension(
    app_without_extension: Flask, location: Location
) -> None:
    assert not sync.watches(app_without_extension)
    record = Record.create({"title": "t"})
    # The first record of the application enabled the hooks for it.
    assert sync.watches(app_without_extension)
    ObjectVersion.create(record.bucket, "a.txt", stream=BytesIO(b"a"))
    record.commit()
    assert files_of(record).keys == ["a.txt"]
    assert [entry["key"] for entry in record["_files"]] == ["a.txt"]
    db_.session.commit()
    assert Record.get_record(record.id).files.keys == ["a.txt"]

    before = storage_files(location.uri)
    refused_upload(record, "refused.bin")
    files_of(record)["rolled-back.bin"] = BytesIO(b"b" * 500)
    db_.session.rollback()
    assert storage_files(location.uri) == before


def test_without_the_extension_writes_before_the_first_record_are_missed(
    app: Flask, app_without_extension: Flask, location: Location
) -> None:
    """What upgrade.rst says: repair what was written before the first record."""
    with app.app_context():
        record: BucketRecord = Record.create({"title": "made elsewhere"})
        db_.session.commit()
        record_id, bucket_id = record.id, record.bucket.id
        db_.session.remove()
    assert not sync.watches(app_without_extension)
    ObjectVersion.create(bucket_id, "early.txt", stream=BytesIO(b"early"))
    db_.session.commit()
    stored = Record.get_record(record_id)
    assert stored.files.keys == []
    assert sync.repair(bucket_id).added == ["early.txt"]
    db_.session.commit()
    assert Record.get_record(record_id).files.keys == ["early.txt"]


def test_record_shows_files_written_after_it_was_read(
    db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "t"})
    db.session.commit()
    record = Record.get_record(record.id)
    assert "_files" not in record
    ObjectVersion.create(record.bucket, "late.txt", stream=BytesIO(b"late"))
    # Read before and after the write: shown without a commit in between.
    assert [entry["key"] for entry in record["_files"]] == ["late.txt"]
    ObjectVersion.delete(record.bucket, "late.txt")
    assert "_files" not in record
    db.session.commit()


def test_listeners_cost_no_statement_where_nothing_is_noted(
    db: SQLAlchemy, location: Location
) -> None:
    uri = os.path.join(location.uri, "p")
    with counting_statements() as counter:
        db.session.add(Location(name="plain", uri=uri))
        db.session.commit()
    inserts = [sql for sql in counter.statements if not sql.startswith("BEGIN")]
    assert len(inserts) == 1 and inserts[0].startswith("INSERT INTO files_location")
