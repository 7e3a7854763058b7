"""Files written through Invenio-Files-REST show in the record, in every test.

pytest-invenio's ``db`` fixture gives each test a new scoped session (a new
session class too): the session hooks must follow it. Each test below
writes with ``ObjectVersion.create``, as Invenio modules' tests do, and
reads through the record API.
"""

import hashlib
import os
from io import BytesIO

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db as db_
from invenio_files_rest.models import Location, ObjectVersion

from invenio_records_files_ext import signals
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.files import FilesIterator, queries

SESSIONS: list[type] = []
"""The session class of each test, to show that the harness swapped it."""


def stored_bytes(root: str) -> set[str]:
    """Return the set of files under a storage location."""
    found: set[str] = set()
    for folder, _, names in os.walk(root):
        found.update(os.path.join(folder, name) for name in names)
    return found


def files_of(record: Record) -> FilesIterator:
    """Return the files of a record that has a bucket (every record here)."""
    files = record.files
    assert files is not None, "the record has no bucket"
    return files


def row_keys(record: Record) -> list[str]:
    """Keys of the record's file rows, read from the database."""
    bucket = record.bucket
    assert bucket is not None, "the record has no bucket"
    return [row.key for row in queries.iterate_rows(bucket.id)]


@pytest.mark.parametrize("number", range(3))
def test_object_versions_show_in_every_test(
    app: Flask, db: SQLAlchemy, location: Location, number: int
) -> None:
    SESSIONS.append(type(db.session()))
    record = Record.create({"title": "written by Files-REST"})
    key = "f{0}.txt".format(number)
    data = "file number {0}".format(number).encode()
    obj = ObjectVersion.create(record.bucket, key, stream=BytesIO(data))
    record.commit()
    assert files_of(record).keys == [key]
    assert files_of(record)[key].obj.version_id == obj.version_id
    assert [entry["key"] for entry in record["_files"]] == [key]
    assert record["_files"][0]["checksum"] == "md5:" + hashlib.md5(data).hexdigest()
    db.session.commit()
    again = Record.get_record(record.id)
    assert again.files.keys == [key]
    assert row_keys(again) == [key]


def test_each_test_had_its_own_session_class() -> None:
    # pytest-invenio made a session (class) per test: the hooks followed.
    assert len(SESSIONS) == 3
    assert len(set(SESSIONS)) == 3
    assert all(cls.__name__ == "PytestInvenioSession" for cls in SESSIONS)


def test_a_failed_upload_leaves_no_bytes(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "refused"})
    db.session.commit()
    before = stored_bytes(location.uri)

    def refuse(sender: object, record: Record, file: object) -> None:
        raise ValueError("refused by a hook")

    signals.file_added.connect(refuse)
    try:
        with pytest.raises(ValueError):
            files_of(record)["refused.bin"] = BytesIO(b"x" * 1000)
    finally:
        signals.file_added.disconnect(refuse)
    assert stored_bytes(location.uri) == before
    assert files_of(record).keys == []

    # Rolled back after writing: the ledger deletes the bytes.
    files_of(record)["rolled-back.bin"] = BytesIO(b"y" * 1000)
    assert len(stored_bytes(location.uri)) == len(before) + 1
    db.session.rollback()
    assert stored_bytes(location.uri) == before


def test_bytes_written_and_committed_stay(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "kept"})
    before = stored_bytes(location.uri)
    files_of(record)["kept.bin"] = BytesIO(b"z" * 100)
    db.session.commit()
    assert len(stored_bytes(location.uri)) == len(before) + 1
    assert Record.get_record(record.id).files.keys == ["kept.bin"]


def test_files_follow_replacements_and_deletions_by_files_rest(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "in step"})
    files_of(record)["a.txt"] = BytesIO(b"a")
    files_of(record)["a.txt"]["description"] = "kept when replaced"
    files_of(record)["b.txt"] = BytesIO(b"b")
    db.session.commit()

    replaced = ObjectVersion.create(record.bucket, "a.txt", stream=BytesIO(b"a, again"))
    ObjectVersion.delete(record.bucket, "b.txt")
    ObjectVersion.create(record.bucket, "c.txt", stream=BytesIO(b"c"))
    # Read in the same transaction: the record sees the changes already.
    assert files_of(record).keys == ["a.txt", "c.txt"]
    assert files_of(record)["a.txt"].obj.version_id == replaced.version_id
    assert files_of(record)["a.txt"]["description"] == "kept when replaced"
    assert [entry["key"] for entry in record["_files"]] == ["a.txt", "c.txt"]
    assert record["_files"][0]["size"] == len(b"a, again")

    # Committed without reading first: the before-commit reconcile did it.
    other = Record.create({"title": "never read"})
    ObjectVersion.create(other.bucket, "only.txt", stream=BytesIO(b"only"))
    db.session.commit()
    assert row_keys(other) == ["only.txt"]
    assert Record.get_record(other.id)["_files"][0]["key"] == "only.txt"


def test_db_session_is_the_harness_session(app: Flask, db: SQLAlchemy) -> None:
    # The fixture replaced ``db.session``: the record API uses it.
    assert db_.session is db.session
    assert type(db.session()).__name__ == "PytestInvenioSession"
