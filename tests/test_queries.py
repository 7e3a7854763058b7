"""Single-file operations cost the same number of queries at 5 and 150 files."""

import pytest

from invenio_records_files_ext.api import Record
from tests.conftest import stream

SIZES = (5, 150)


def _make_record(db, size):
    record = Record.create({"title": "many"})
    record.files.update(
        (("f{0:04d}.txt".format(i), stream(b"x" * i)) for i in range(size))
    )
    record.files["f0001.txt"]["note"] = "n"
    db.session.commit()
    return record.id


def _fresh_files(record_id):
    record = Record.get_record(record_id)
    files = record.files
    return record, files


def _add(files):
    files["new.txt"] = stream(b"new")


def _replace(files):
    files["f0002.txt"] = stream(b"replaced")


def _delete(files):
    del files["f0003.txt"]


def _rename(files):
    files.rename("f0004.txt", "renamed.txt")


def _metadata(files):
    files["f0001.txt"]["note"] = "changed"


def _sort(files):
    files.sort_by("f0004.txt", "f0000.txt")


def _preview(files):
    files.default_preview = "f0002.txt"


WRITES = {
    "add": _add,
    "replace": _replace,
    "delete": _delete,
    "rename": _rename,
    "metadata": _metadata,
    "sort": _sort,
    "default_preview": _preview,
}

READS = {
    "len": len,
    "in": lambda files: "f0002.txt" in files,
    "getitem": lambda files: files["f0002.txt"].file.checksum,
    "iterate": lambda files: [(f.key, f.file.size, f.get("note")) for f in files],
    "dumps": lambda files: files.dumps(),
    "keys": lambda files: files.keys,
    "summary": lambda files: files.summary(),
}


def _count(db, count_queries, size, operation, commit):
    record_id = _make_record(db, size)
    _, files = _fresh_files(record_id)
    with count_queries() as counter:
        operation(files)
        if commit:
            db.session.commit()
    return counter.count


@pytest.mark.parametrize("name", sorted(WRITES))
def test_write_query_count_does_not_grow(db, location, count_queries, name):
    counts = [_count(db, count_queries, size, WRITES[name], True) for size in SIZES]
    assert counts[0] == counts[1], counts
    assert counts[0] <= 30


@pytest.mark.parametrize("name", sorted(READS))
def test_read_query_count_does_not_grow(db, location, count_queries, name):
    counts = [_count(db, count_queries, size, READS[name], False) for size in SIZES]
    assert counts[0] == counts[1], counts
    assert counts[0] <= 2


def test_bulk_attach_query_count_does_not_grow(db, location, count_queries):
    counts = []
    for size in SIZES:
        record = Record.create({})
        db.session.commit()
        files = Record.get_record(record.id).files
        with count_queries() as counter:
            files.update(("k{0}".format(i), stream(b"y")) for i in range(size))
            db.session.commit()
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_rest_listing_query_count_does_not_grow(client, db, count_queries):
    from invenio_files_rest.models import ObjectVersionTag
    from invenio_pidstore.providers.recordid import RecordIdProvider

    counts = []
    for size in SIZES:
        record_id = _make_record(db, size)
        record = Record.get_record(record_id)
        ObjectVersionTag.create(record.files["f0001.txt"].obj, "tag", "value")
        pid = RecordIdProvider.create(object_type="rec", object_uuid=record_id).pid
        db.session.commit()
        url = "/records/{0}/files".format(pid.pid_value)
        with count_queries() as counter:
            listing = client.get(url).json
            versions = client.get(url + "?versions").json
        assert len(listing["contents"]) == size
        assert len(versions["contents"]) >= size
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def _statements_compiled_anew(db, operation):
    """Run ``operation`` on a new record; return its statements not cached."""
    from sqlalchemy import event
    from sqlalchemy.engine.interfaces import CacheStats

    record_id = _make_record(db, 5)
    _, files = _fresh_files(record_id)
    found = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if context is None or context.compiled is None:
            return
        if statement.lstrip().split(None, 1)[0].upper() in ("SAVEPOINT", "RELEASE"):
            return
        if context.cache_hit in (CacheStats.NO_CACHE_KEY, CacheStats.CACHE_MISS):
            found.append(statement)

    event.listen(db.engine, "after_cursor_execute", seen)
    try:
        operation(files)
        db.session.commit()
    finally:
        event.remove(db.engine, "after_cursor_execute", seen)
    return found


def _bulk(files):
    files.update({"b1.txt": stream(b"1"), "f0002.txt": stream(b"2")})


@pytest.mark.parametrize("name", sorted(WRITES) + ["bulk"])
def test_writes_reuse_compiled_statements(db, location, name):
    """Once warm, a write compiles no statement again.

    A statement holding a value of an uncacheable type (Invenio-DB's
    timestamps) is compiled on every call, which costs more than running
    it: the writer passes values as execution parameters instead.
    """
    operation = WRITES.get(name, _bulk)
    _statements_compiled_anew(db, operation)
    assert _statements_compiled_anew(db, operation) == []


def test_object_versions_are_indexed_by_bucket_and_key(db):
    """Finding the current version of a key reads that key's versions only.

    Invenio-Files-REST indexes ``files_object`` by bucket, and by bucket,
    version and key: without this index, each upload read every version of
    the bucket.
    """
    from sqlalchemy import inspect

    indexes = {
        index["name"]: index["column_names"]
        for index in inspect(db.engine).get_indexes("files_object")
    }
    assert indexes["ix_records_files_object_bucket_key"] == ["bucket_id", "key"]
