"""Statement counts: a change or a read costs the same at 5 and 5,000 files.

The two records are built once for the module; every measured operation
runs in a transaction that is rolled back afterwards (the ledger deletes
the bytes it staged), so each test sees the same records.
"""

import math
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from io import BytesIO
from typing import Any, Protocol

import pytest
from flask import Flask
from invenio_db import db as db_
from invenio_files_rest.models import Location
from sqlalchemy import event

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.errors import TooManyFilesError
from invenio_records_files_ext.files import queries
from invenio_records_files_ext.files.iterator import FilesIterator
from tests.helpers import IsolatedClient, QueryCounter, empty_database, files_of

SIZES = (5, 5000)

Operation = Callable[[FilesIterator], object]
"""What a test measures: something done to a record's files."""


class Measure(Protocol):
    """The ``measure`` fixture: the statements ``operation`` runs, per size."""

    def __call__(
        self, operation: Operation, sizes: Sequence[int] = SIZES
    ) -> list[int]: ...


def stream(data: bytes = b"x") -> BytesIO:
    """A small readable stream."""
    return BytesIO(data)


@pytest.fixture(scope="module")
def records(
    app: Flask, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, uuid.UUID]]:
    """``{size: record id}`` of records holding 5 and 5,000 files."""
    storage = tmp_path_factory.mktemp("storage")
    with app.app_context():
        with empty_database():
            db_.session.add(Location(name="default", uri=str(storage), default=True))
            db_.session.commit()
            ids: dict[int, uuid.UUID] = {}
            for size in SIZES:
                record = Record.create({"title": "many"})
                files_of(record).update(
                    ("f{0:05d}.txt".format(i), stream(b"x" * (i % 7)))
                    for i in range(size)
                )
                files_of(record)["f00001.txt"]["note"] = "n"
                db_.session.commit()
                ids[size] = record.id
            yield ids


@pytest.fixture()
def measure(
    app: Flask,
    records: dict[int, uuid.UUID],
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> Iterator[Measure]:
    """Run ``operation(files)`` on a fresh record of each size; return counts."""

    def run(operation: Operation, sizes: Sequence[int] = SIZES) -> list[int]:
        counts: list[int] = []
        for size in sizes:
            record = Record.get_record(records[size])
            files = record.files
            try:
                with count_statements() as counter:
                    operation(files)
                    db_.session.flush()
                counts.append(counter.count)
            finally:
                db_.session.rollback()
        return counts

    with app.app_context():
        yield run


WRITES: dict[str, Operation] = {
    "add": lambda files: files.__setitem__("new.txt", stream(b"new")),
    "replace": lambda files: files.__setitem__("f00002.txt", stream(b"replaced")),
    "delete": lambda files: files.__delitem__("f00003.txt"),
    "rename": lambda files: files.rename("f00004.txt", "renamed.txt"),
    "metadata": lambda files: files["f00001.txt"].__setitem__("note", "changed"),
    "sort": lambda files: files.sort_by("f00004.txt", "f00000.txt"),
    "default_preview": lambda files: setattr(files, "default_preview", "f00002.txt"),
}

READS: dict[str, Operation] = {
    "len": len,
    "in": lambda files: "f00002.txt" in files,
    "getitem": lambda files: files["f00002.txt"].file.checksum,
    "summary": lambda files: files.summary(),
    "default_preview": lambda files: files.default_preview,
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_write_statement_count_does_not_grow(measure: Measure, name: str) -> None:
    counts = measure(WRITES[name])
    assert counts[0] == counts[1], counts
    assert counts[0] <= 16, counts


@pytest.mark.parametrize("name", sorted(READS))
def test_read_statement_count_does_not_grow(measure: Measure, name: str) -> None:
    counts = measure(READS[name])
    assert counts[0] == counts[1], counts
    assert counts[0] <= 2, counts


@pytest.mark.parametrize(
    "name, operation",
    [
        ("iterate", lambda files: [(f.key, f.file.size, f.get("note")) for f in files]),
        ("dumps", lambda files: files.dumps()),
    ],
)
def test_iteration_costs_one_query_per_chunk(
    measure: Measure, name: str, operation: Operation
) -> None:
    counts = measure(operation)
    for size, count in zip(SIZES, counts):
        assert count <= math.ceil(size / queries.ITER_CHUNK_SIZE) + 1, (size, counts)


def test_reading_a_record_costs_the_same_at_any_size(
    app: Flask,
    records: dict[int, uuid.UUID],
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    counts: list[int] = []
    for size in SIZES:
        with count_statements() as counter:
            record = Record.get_record(records[size])
            assert record["title"] == "many"
            assert record.get("_bucket")
        counts.append(counter.count)
        db_.session.rollback()
    # One SELECT (plus the BEGIN that SQLite gets explicitly).
    assert counts[0] == counts[1] <= 2, counts


def test_inline_files_are_bounded(
    app: Flask,
    records: dict[int, uuid.UUID],
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    small = Record.get_record(records[5])
    with count_statements() as counter:
        assert [entry["key"] for entry in small["_files"]][:2] == [
            "f00000.txt",
            "f00001.txt",
        ]
        assert small["_files"][1]["note"] == "n"
    assert counter.count == 2  # the bucket link, then the entries
    big = Record.get_record(records[5000])
    with pytest.raises(TooManyFilesError) as raised:
        big["_files"]
    assert isinstance(raised.value, KeyError)
    assert "RECORDS_FILES_INLINE_MAX_ENTRIES" in str(raised.value)
    assert big.get("_files") is None
    assert "_files" not in big
    dump = big.dumps()
    assert "_files" not in dump
    assert dump["_files_summary"]["count"] == 5000
    assert dump["_files_summary"]["inline"] is False
    assert dump["_files_summary"]["total_bytes"] == sum(i % 7 for i in range(5000))
    assert small.dumps()["_files_summary"]["inline"] is True
    db_.session.rollback()


def test_inline_limit_is_configurable(
    app: Flask, records: dict[int, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_INLINE_MAX_ENTRIES", 4)
    record = Record.get_record(records[5])
    with pytest.raises(TooManyFilesError):
        record["_files"]
    monkeypatch.setitem(app.config, "RECORDS_FILES_INLINE_MAX_ENTRIES", 5)
    assert len(Record.get_record(records[5])["_files"]) == 5
    db_.session.rollback()


def test_rest_listing_pages_cost_the_same(
    app: Flask,
    records: dict[int, uuid.UUID],
    client_for: Callable[[], IsolatedClient],
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    from invenio_files_rest.models import ObjectVersionTag
    from invenio_pidstore.providers.recordid import RecordIdProvider

    counts: list[int] = []
    for size in SIZES:
        record = Record.get_record(records[size])
        ObjectVersionTag.create(record.files["f00001.txt"].obj, "tag", "value")
        pid = RecordIdProvider.create(object_type="rec", object_uuid=record.id).pid
        db_.session.commit()
        client = client_for()
        url = "/records/{0}/files".format(pid.pid_value)
        with count_statements() as counter:
            listing = client.get(url + "?size=100").json
            versions = client.get(url + "?versions&size=100").json
        assert len(listing["contents"]) == min(size, 100)
        assert len(versions["contents"]) == min(size, 100)
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def _statements_compiled_anew(record_id: uuid.UUID, operation: Operation) -> list[str]:
    """Run ``operation`` on a record's files; return the statements not cached.

    The transaction is rolled back afterwards, like every measure here.
    """
    from sqlalchemy import event
    from sqlalchemy.engine.interfaces import CacheStats

    files = Record.get_record(record_id).files
    found: list[str] = []

    def seen(
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if context is None or context.compiled is None:
            return
        if statement.lstrip().split(None, 1)[0].upper() in ("SAVEPOINT", "RELEASE"):
            return
        if context.cache_hit in (CacheStats.NO_CACHE_KEY, CacheStats.CACHE_MISS):
            found.append(statement)

    event.listen(db_.engine, "after_cursor_execute", seen)
    try:
        operation(files)
        db_.session.flush()
    finally:
        event.remove(db_.engine, "after_cursor_execute", seen)
        db_.session.rollback()
    return found


def _bulk(files: FilesIterator) -> None:
    files.update({"b1.txt": stream(b"1"), "f00002.txt": stream(b"2")})


@pytest.mark.parametrize("name", sorted(WRITES) + ["bulk"])
def test_writes_reuse_compiled_statements(
    app: Flask, records: dict[int, uuid.UUID], name: str
) -> None:
    """Once warm, a write compiles no statement again.

    A statement holding a value of an uncacheable type (Invenio-DB's
    timestamps) is compiled on every call, which costs more than running
    it: the writer passes values as execution parameters instead.
    """
    operation = WRITES.get(name, _bulk)
    _statements_compiled_anew(records[5], operation)
    assert _statements_compiled_anew(records[5], operation) == []


def test_object_versions_are_indexed_by_bucket_and_key(
    app: Flask, records: dict[int, uuid.UUID]
) -> None:
    """Finding the current version of a key reads that key's versions only.

    Invenio-Files-REST indexes ``files_object`` by bucket, and by bucket,
    version and key: without this index, each upload read every version of
    the bucket.
    """
    from sqlalchemy import inspect

    indexes = {
        index["name"]: index["column_names"]
        for index in inspect(db_.engine).get_indexes("files_object")
    }
    assert indexes["ix_records_files_object_bucket_key"] == ["bucket_id", "key"]


def _attach(count: int) -> Operation:
    def operation(files: FilesIterator) -> None:
        for index in range(count):
            files["new-{0}.txt".format(index)] = stream(b"%d" % index)

    return operation


def test_attaching_one_by_one_costs_the_same_per_file(measure: Measure) -> None:
    """Each file attached one by one costs the same statements, however many."""
    one, two, ten = (measure(_attach(n), sizes=(5,))[0] for n in (1, 2, 10))
    assert ten - two == 8 * (two - one), (one, two, ten)
    assert two - one <= 16, (one, two, ten)  # 11 on SQLite, 13 on PostgreSQL


def test_bulk_attach_costs_statements_per_chunk(measure: Measure) -> None:
    """``files.update()`` writes a thousand files with a few statements."""

    def bulk(count: int) -> Operation:
        return lambda files: files.update(
            ("bulk-{0}.txt".format(i), stream(b"%d" % i)) for i in range(count)
        )

    ten, many = (measure(bulk(n), sizes=(5,))[0] for n in (10, 2000))
    assert many - ten <= 2 * 10, (ten, many)


RECORD_TABLES = ("records_metadata", "records_metadata_version", "records_files_entry")
_WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)


def _size(value: object) -> int:
    """Bytes of one bound value: text and binary by length, numbers 8."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return len(value or b"")
    return 8 if isinstance(value, (int, float)) else len(str(value))


@contextmanager
def written_to_record_tables() -> Iterator[list[int]]:
    """Collect the bytes bound to each INSERT and UPDATE on the record tables."""
    written: list[int] = []

    def seen(
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        match = _WRITE.match(statement)
        if match and match.group(1) in RECORD_TABLES:
            for values in parameters if executemany else [parameters]:
                values = values.values() if isinstance(values, dict) else values
                written.append(sum(map(_size, values)))

    event.listen(db_.engine, "before_cursor_execute", seen)
    try:
        yield written
    finally:
        event.remove(db_.engine, "before_cursor_execute", seen)


def test_rest_upload_costs_the_same_at_any_size(
    app: Flask,
    records: dict[int, uuid.UUID],
    client_for: Callable[[], IsolatedClient],
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    """One REST upload sends the same statements whatever the record holds,
    and writes at most 4 KiB to the record tables (never the record's JSON)."""
    from invenio_pidstore.providers.recordid import RecordIdProvider

    counts: list[int] = []
    written: list[int] = []
    for size in SIZES:
        provider = RecordIdProvider.create(object_type="rec", object_uuid=records[size])
        db_.session.commit()
        client = client_for()
        url = "/records/{0}/files/upload.txt".format(provider.pid.pid_value)
        headers = {"Content-Type": "application/octet-stream"}
        with count_statements() as counter, written_to_record_tables() as sizes:
            response = client.put(url, data=b"u" * 100, headers=headers)
        assert response.status_code == 200, response.json
        counts.append(counter.count)
        written.append(sum(sizes))
        version = response.json["version_id"]
        assert client.delete(url + "?versionId=" + version).status_code == 204
    assert counts[0] == counts[1], counts
    assert 0 < max(written) <= 4 * 1024, written
