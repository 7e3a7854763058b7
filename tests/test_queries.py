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
