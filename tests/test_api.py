"""The Python API: Record, FilesMixin, FilesIterator, FileObject."""

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.errors import BucketLockedError, InvalidOperationError
from invenio_files_rest.models import Bucket, Location, ObjectVersion
from invenio_records.errors import MissingModelError

from invenio_records_files_ext.api import FileObject, FilesIterator, Record
from invenio_records_files_ext.errors import FileKeyExistsError, InvalidFileKeyError
from invenio_records_files_ext.models import RecordsBuckets
from tests.helpers import BucketRecord, QueryCounter, files_of, storage_files, stream


def reload(record: BucketRecord) -> BucketRecord:
    """Read a record back from the database, as another request would."""
    reloaded: BucketRecord = Record.get_record(record.id)
    return reloaded


def test_create_record_with_bucket(db: SQLAlchemy, location: Location) -> None:
    record = Record.create({"title": "a"})
    db.session.commit()
    assert record.bucket_id == record["_bucket"]
    assert isinstance(record.bucket, Bucket)
    assert str(record.bucket.id) == record["_bucket"]
    link = RecordsBuckets.query.filter_by(record_id=record.id).one()
    assert link.bucket_id == record.bucket.id
    assert len(files_of(record)) == 0
    assert "_files" not in record


def test_create_record_without_bucket(db: SQLAlchemy, location: Location) -> None:
    record = Record.create({"title": "a"}, with_bucket=False)
    db.session.commit()
    assert record.files is None
    assert record.bucket is None
    assert "_bucket" not in record
    assert "_files" not in record


def test_files_without_model_raises() -> None:
    with pytest.raises(MissingModelError):
        Record({}).files  # noqa: B018 - the property raises


def test_create_ignores_client_files_keys(db: SQLAlchemy, location: Location) -> None:
    data = {"title": "a", "_files": [{"key": "fake"}], "_default_preview": "x"}
    record = Record.create(data)
    db.session.commit()
    assert "_files" not in reload(record)
    assert "_default_preview" not in reload(record)


def test_create_bucket_uses_configuration(
    app: Flask, db: SQLAlchemy, location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_BUCKET_QUOTA_SIZE", 1000)
        patch.setitem(app.config, "RECORDS_FILES_BUCKET_MAX_FILE_SIZE", 100)
        record: BucketRecord = Record.create({})
        db.session.commit()
        assert record.bucket.quota_size == 1000
        assert record.bucket.max_file_size == 100
    other: BucketRecord = Record.create({})
    assert other.bucket.quota_size is None


def test_create_bucket_in_named_location(
    app: Flask,
    db: SQLAlchemy,
    location: Location,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from invenio_files_rest.models import Location

    db.session.add(Location(name="archive", uri=str(tmp_path / "archive")))
    db.session.commit()
    monkeypatch.setitem(app.config, "RECORDS_FILES_BUCKET_LOCATION", "archive")
    record: BucketRecord = Record.create({})
    files_of(record)["a.txt"] = stream(b"abc")
    db.session.commit()
    assert record.bucket.location.name == "archive"
    assert files_of(record)["a.txt"].file.uri.startswith(str(tmp_path / "archive"))


def test_custom_dump_and_load_bucket(db: SQLAlchemy, location: Location) -> None:
    class MyRecord(Record):
        @classmethod
        def dump_bucket(cls, data: dict[str, Any], bucket: Bucket) -> None:
            data.setdefault("_buckets", {})["record"] = str(bucket.id)

        @classmethod
        def load_bucket(cls, record: BucketRecord) -> Any:
            return record.get("_buckets", {}).get("record")

    record = MyRecord.create({"title": "test"})
    db.session.commit()
    assert record["_buckets"]["record"] == record.bucket_id
    assert "_bucket" not in record
    files_of(record)["a.txt"] = stream()
    db.session.commit()
    again = MyRecord.get_record(record.id)
    assert again.files.keys == ["a.txt"]


def test_custom_create_bucket_may_return_none(
    db: SQLAlchemy, location: Location
) -> None:
    class NoBucket(Record):
        @classmethod
        def create_bucket(cls, data: dict[str, Any]) -> None:
            return None

    record = NoBucket.create({})
    db.session.commit()
    assert record.files is None


def test_add_and_read_files(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["hello.txt"] = stream(b"Hello, World")
    assert len(record.files) == 1
    assert "hello.txt" in record.files
    assert "other.txt" not in record.files
    fileobj = record.files["hello.txt"]
    assert isinstance(fileobj, FileObject)
    assert fileobj.key == "hello.txt"
    assert fileobj["key"] == "hello.txt"
    assert fileobj.file.size == 12
    assert fileobj["checksum"] == "md5:82bb413746aee42f89dea2b59614f9ef"
    with pytest.raises(KeyError):
        record.files["missing.txt"]
    assert record.files.get("missing.txt") is None
    db.session.commit()
    stored = reload(record)
    assert [entry["key"] for entry in stored["_files"]] == ["hello.txt"]
    with stored.files["hello.txt"].obj.file.storage().open() as fp:
        assert fp.read() == b"Hello, World"


def test_iteration_follows_record_order(record: BucketRecord, db: SQLAlchemy) -> None:
    for key in ("c.txt", "a.txt", "b.txt"):
        record.files[key] = stream(key.encode())
    db.session.commit()
    stored = reload(record)
    assert [f.key for f in stored.files] == ["c.txt", "a.txt", "b.txt"]
    assert stored.files.keys == ["c.txt", "a.txt", "b.txt"]
    # As in invenio-records-files, the iterator is its own iterator.
    iterator = iter(stored.files)
    assert next(iterator).key == "c.txt"
    assert stored.files.next().key == "a.txt"


def test_replace_keeps_position_and_metadata(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    record.files["a.txt"] = stream(b"one")
    record.files["b.txt"] = stream(b"two")
    record.files["a.txt"]["description"] = "first"
    old_version = record.files["a.txt"].version_id
    record.files["a.txt"] = stream(b"one, corrected")
    db.session.commit()
    stored = reload(record)
    assert stored.files.keys == ["a.txt", "b.txt"]
    entry = stored["_files"][0]
    assert entry["description"] == "first"
    assert entry["size"] == len(b"one, corrected")
    assert entry["version_id"] != str(old_version)
    versions = stored.files["a.txt"].get_versions()
    assert [v.is_head for v in versions] == [True, False]
    assert stored.files["a.txt"].get_version(old_version).version_id == old_version
    assert stored.files["a.txt"].get_version().is_head


def test_delete_file(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["a.txt"] = stream()
    record.files["b.txt"] = stream()
    del record.files["a.txt"]
    with pytest.raises(KeyError):
        del record.files["a.txt"]
    db.session.commit()
    stored = reload(record)
    assert stored.files.keys == ["b.txt"]
    assert len(stored.files) == 1
    assert ObjectVersion.get(stored.bucket, "a.txt") is None


def test_rename_keeps_position_and_metadata(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    for key in ("a.txt", "b.txt", "c.txt"):
        record.files[key] = stream(key.encode())
    record.files["b.txt"]["role"] = "main"
    obj = record.files.rename("b.txt", "dir/renamed.txt")
    assert isinstance(obj, ObjectVersion)
    assert obj.key == "dir/renamed.txt"
    db.session.commit()
    stored = reload(record)
    assert stored.files.keys == ["a.txt", "dir/renamed.txt", "c.txt"]
    assert stored.files["dir/renamed.txt"]["role"] == "main"
    assert "b.txt" not in stored.files
    with stored.files["dir/renamed.txt"].file.storage().open() as fp:
        assert fp.read() == b"b.txt"


def test_rename_errors(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["a.txt"] = stream()
    record.files["b.txt"] = stream()
    with pytest.raises(KeyError):
        record.files.rename("missing.txt", "new.txt")
    with pytest.raises(FileKeyExistsError):
        record.files.rename("a.txt", "b.txt")
    with pytest.raises(InvalidFileKeyError):
        record.files.rename("a.txt", "../escape")
    with pytest.raises(InvalidFileKeyError):
        record.files.rename("a.txt", "a.txt")
    assert record.files.keys == ["a.txt", "b.txt"]


def test_sort_by_keys_and_file_ids(record: BucketRecord, db: SQLAlchemy) -> None:
    for key in ("a", "b", "c", "d"):
        record.files[key] = stream(key.encode())
    record.files.sort_by("c", "a")
    assert record.files.keys == ["c", "a", "b", "d"]
    file_id = str(record.files["d"].file_id)
    record.files.sort_by(file_id)
    assert record.files.keys == ["d", "c", "a", "b"]
    record.files.sort_by("a", "b", "c", "d")
    db.session.commit()
    assert reload(record).files.keys == ["a", "b", "c", "d"]
    with pytest.raises(KeyError):
        record.files.sort_by("zzz")
    with pytest.raises(ValueError):
        record.files.sort_by("a", "a")


def test_metadata_reserved_keys(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["hello.txt"] = stream()
    fileobj = record.files["hello.txt"]
    fileobj["filetype"] = "txt"
    assert record.files["hello.txt"]["filetype"] == "txt"
    assert fileobj.get("filetype") == "txt"
    assert fileobj.get("nothing", "default") == "default"
    assert "filetype" in fileobj
    for reserved in ("key", "version_id", "bucket", "file", "mimetype", "is_head"):
        with pytest.raises(KeyError):
            fileobj[reserved] = "x"
    del fileobj["filetype"]
    with pytest.raises(KeyError):
        del fileobj["filetype"]
    with pytest.raises(KeyError):
        del fileobj["key"]
    fileobj["kept"] = {"nested": [1, 2]}
    db.session.commit()
    entry = reload(record)["_files"][0]
    assert entry["kept"] == {"nested": [1, 2]}
    assert "filetype" not in entry


def test_dumps(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["hello.txt"] = stream()
    record.files["hello.txt"]["filetype"] = "txt"
    dump = record.files.dumps()
    assert sorted(dump[0]) == [
        "bucket",
        "checksum",
        "checksums",
        "file_id",
        "filetype",
        "key",
        "mimetype",
        "size",
        "version_id",
    ]
    fileobj = record.files["hello.txt"]
    assert fileobj.dumps()["size"] == 12
    other = Bucket.create()
    ObjectVersion.create(other, "elsewhere.txt", stream=stream(b"x"))
    assert [d["key"] for d in record.files.dumps(bucket=other)] == ["elsewhere.txt"]


def test_files_setter(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files = {"a.txt": stream(b"a"), "b.txt": stream(b"b")}
    assert record.files.keys == ["a.txt", "b.txt"]
    # As in invenio-records-files: only a record without files may be set.
    with pytest.raises(RuntimeError):
        record.files = {"c.txt": stream(b"c")}
    db.session.commit()
    assert reload(record).files.keys == ["a.txt", "b.txt"]


def test_files_setter_without_bucket(db: SQLAlchemy, location: Location) -> None:
    record = Record.create({}, with_bucket=False)
    with pytest.raises(InvalidOperationError):
        record.files = {"a.txt": stream()}


def test_update_many(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["b.txt"] = stream(b"old")
    record.files["b.txt"]["note"] = "kept"
    keys = record.files.update({"a.txt": stream(b"a"), "b.txt": stream(b"new")})
    assert keys == ["a.txt", "b.txt"]
    db.session.commit()
    stored = reload(record)
    assert stored.files.keys == ["b.txt", "a.txt"]
    assert stored.files["b.txt"]["note"] == "kept"
    assert stored.files["b.txt"].file.size == 3
    assert len(stored.files) == 2
    assert stored.bucket.size == sum(
        v.file.size for v in ObjectVersion.get_by_bucket(stored.bucket, versions=True)
    )


def test_update_many_refuses_bad_or_duplicate_keys(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    with pytest.raises(InvalidFileKeyError):
        record.files.update([("ok.txt", stream()), ("/bad", stream())])
    with pytest.raises(ValueError):
        record.files.update([("a", stream()), ("a", stream())])
    assert len(record.files) == 0


@pytest.mark.parametrize("operation", ["put", "delete", "rename", "metadata", "sort"])
def test_locked_bucket_refuses_writes(
    record: BucketRecord, db: SQLAlchemy, operation: str
) -> None:
    record.files["a.txt"] = stream()
    record.files["a.txt"]["m"] = 1
    record.bucket.locked = True
    db.session.commit()
    stored = reload(record)
    with pytest.raises(InvalidOperationError) as error:
        if operation == "put":
            stored.files["b.txt"] = stream()
        elif operation == "delete":
            del stored.files["a.txt"]
        elif operation == "rename":
            stored.files.rename("a.txt", "c.txt")
        elif operation == "metadata":
            stored.files["a.txt"]["m"] = 2
        else:
            stored.files.sort_by("a.txt")
    assert isinstance(error.value, BucketLockedError)
    db.session.commit()
    assert reload(record)["_files"][0]["m"] == 1
    assert reload(record).files.keys == ["a.txt"]


def test_deleted_bucket_refuses_writes(record: BucketRecord, db: SQLAlchemy) -> None:
    record.bucket.deleted = True
    db.session.commit()
    with pytest.raises(InvalidOperationError):
        reload(record).files["a.txt"] = stream()


def test_record_update_keeps_files_and_bucket(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    record.files["a.txt"] = stream()
    db.session.commit()
    stored = reload(record)
    bucket_id = stored["_bucket"]
    stored.clear()
    stored.update({"title": "replaced", "_bucket": str(uuid.uuid4()), "_files": []})
    stored.commit()
    db.session.commit()
    again = reload(record)
    assert again["title"] == "replaced"
    assert again["_bucket"] == bucket_id
    assert again.files.keys == ["a.txt"]


def test_record_commit_after_file_changes_writes_once(
    record: BucketRecord,
    db: SQLAlchemy,
    count_queries: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    record.files["a.txt"] = stream()
    record["title"] = "changed"
    record.commit()
    db.session.commit()
    stored = reload(record)
    assert stored["title"] == "changed"
    assert stored.files.keys == ["a.txt"]


def test_force_delete_removes_link(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["a.txt"] = stream()
    db.session.commit()
    bucket_id = record.bucket.id
    record.delete(force=True)
    db.session.commit()
    assert RecordsBuckets.query.filter_by(bucket_id=bucket_id).count() == 0


def test_records_buckets_create(db: SQLAlchemy, location: Location) -> None:
    record = Record.create({}, with_bucket=False)
    bucket = Bucket.create()
    link = RecordsBuckets.create(record=record.model, bucket=bucket)
    db.session.commit()
    assert link.record.id == record.id
    assert link.bucket.id == bucket.id
    links = RecordsBuckets.query.filter_by(record_id=record.id).all()
    assert [link.bucket_id for link in links] == [bucket.id]


def test_bucket_must_be_linked(db: SQLAlchemy, location: Location) -> None:
    """A ``_bucket`` the record is not linked to is never used."""
    victim = Record.create({})
    files_of(victim)["secret.txt"] = stream(b"secret")
    db.session.commit()
    intruder = Record.create({"_bucket": victim["_bucket"]}, with_bucket=False)
    db.session.commit()
    assert intruder.bucket_id == victim["_bucket"]
    assert intruder.bucket is None
    assert intruder.files is None


def test_files_iterator_classes_are_configurable(
    db: SQLAlchemy, location: Location
) -> None:
    class MyFile(FileObject):
        def shout(self) -> str:
            shouted: str = self.key.upper()
            return shouted

    class MyIterator(FilesIterator):
        pass

    class MyRecord(Record):
        file_cls = MyFile
        files_iter_cls = MyIterator

    record = MyRecord.create({})
    files_of(record)["a.txt"] = stream()
    assert isinstance(record.files, MyIterator)
    assert record.files["a.txt"].shout() == "A.TXT"
    assert [f.shout() for f in record.files] == ["A.TXT"]


def test_mixin_can_create_bucket_on_demand(db: SQLAlchemy, location: Location) -> None:
    from invenio_records.api import Record as PlainRecord

    from invenio_records_files_ext.api import FilesMixin

    class Deposit(PlainRecord, FilesMixin):  # type: ignore[misc]  # Invenio-Records is untyped
        def _create_bucket(self) -> Any:
            return Bucket.create()

    deposit = Deposit.create({})
    files = deposit.files
    assert files is not None
    files["a.txt"] = stream()
    db.session.commit()
    assert RecordsBuckets.query.filter_by(record_id=deposit.id).count() == 1


def test_summary_and_default_preview(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["paper.pdf"] = stream(b"%PDF-1.4")
    record.files["data.csv"] = stream(b"a,b\n")
    record.files.default_preview = "paper.pdf"
    with pytest.raises(KeyError):
        record.files.default_preview = "missing.pdf"
    summary = record.files.summary()
    assert summary == {
        "count": 2,
        "total_bytes": 12,
        "mimetypes": ["application/pdf", "text/csv"],
        "default_preview": "paper.pdf",
        "inline": True,
    }
    record.files.rename("paper.pdf", "article.pdf")
    assert record.files.default_preview == "article.pdf"
    db.session.commit()
    stored = reload(record)
    assert stored["_default_preview"] == "article.pdf"
    dump = stored.dumps()
    assert dump["_files_summary"]["default_preview"] == "article.pdf"
    assert dump["_files_summary"]["count"] == 2
    from invenio_records_files_ext.records.dumpers import FilesSummaryExtension

    FilesSummaryExtension().pre_load(dump)
    assert "_files_summary" not in dump
    del stored.files["article.pdf"]
    assert stored.files.default_preview is None
    db.session.commit()
    assert "_default_preview" not in reload(record)


def test_dump_summary_can_be_disabled(
    app: Flask, record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_DUMP_SUMMARY", False)
    assert "_files_summary" not in record.dumps()


def _drop_rows(db: SQLAlchemy) -> None:
    """Lose every file row, as a database restored without them would."""
    from invenio_records_files_ext.models import FileEntry

    db.session.execute(FileEntry.__table__.delete())
    db.session.commit()


def test_flush_repairs_drift(record: BucketRecord, db: SQLAlchemy) -> None:
    """Files added behind the library's back are adopted by flush()."""
    record.files["a.txt"] = stream()
    db.session.commit()
    ObjectVersion.create(record.bucket, "z.txt", stream=stream(b"z"))
    db.session.commit()
    stored = reload(record)
    assert stored.files.keys == ["a.txt", "z.txt"]
    _drop_rows(db)
    drifted = reload(record)
    assert drifted.files.keys == []
    drifted.files.flush()
    db.session.commit()
    assert reload(record).files.keys == ["a.txt", "z.txt"]


def test_files_view_kept_across_transactions_sees_other_changes(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    """A record held across commits never writes back stale entries."""
    record.files["a.txt"] = stream(b"a")
    db.session.commit()
    # Another writer (here Invenio-Files-REST directly) adds a file.
    ObjectVersion.create(record.bucket, "side.txt", stream=stream(b"s"))
    db.session.commit()
    assert record.files.keys == ["a.txt", "side.txt"]
    record.files["c.txt"] = stream(b"c")
    db.session.commit()
    assert reload(record).files.keys == ["a.txt", "side.txt", "c.txt"]
    record["title"] = "x"
    record.commit()
    db.session.commit()
    assert reload(record).files.keys == ["a.txt", "side.txt", "c.txt"]


def test_rolled_back_changes_are_forgotten(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    record.files["a.txt"] = stream(b"a")
    db.session.commit()
    record.files["b.txt"] = stream(b"b")
    db.session.rollback()
    assert record.files.keys == ["a.txt"]
    record.files["c.txt"] = stream(b"c")
    db.session.commit()
    assert reload(record).files.keys == ["a.txt", "c.txt"]


def test_savepoint_rolled_back_by_caller_removes_its_bytes(
    record: BucketRecord, db: SQLAlchemy, location: Location
) -> None:
    record.files["kept.txt"] = stream(b"kept")
    savepoint = db.session.begin_nested()
    record.files["gone.txt"] = stream(b"gone")
    assert len(storage_files(location.uri)) == 2
    savepoint.rollback()
    assert len(storage_files(location.uri)) == 1
    db.session.commit()
    assert len(storage_files(location.uri)) == 1
    assert ObjectVersion.get(record.bucket, "kept.txt") is not None
    assert reload(record).files.keys == ["kept.txt"]


def test_create_bucket_storage_class(
    app: Flask, db: SQLAlchemy, location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_BUCKET_STORAGE_CLASS", "A")
    record: BucketRecord = Record.create({})
    files_of(record)["a.txt"] = stream()
    db.session.commit()
    assert record.bucket.default_storage_class == "A"
    assert files_of(record)["a.txt"].file.storage_class == "A"


def test_flush_repairs_locked_files_too(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["a.txt"] = stream()
    record.files.lock()
    db.session.commit()
    ObjectVersion.query.filter_by(key="a.txt").one()  # the file is there
    _drop_rows(db)
    drifted = reload(record)
    assert drifted.files.keys == []
    drifted.files.flush()
    db.session.commit()
    assert reload(record).files.keys == ["a.txt"]
    assert reload(record).files.locked


@pytest.mark.parametrize(
    "name, value",
    [
        ("nul", "a\x00b"),
        ("nan", float("nan")),
        ("set", {1, 2}),
        ("tuple", (1, 2)),
        ("int keys", {1: "x"}),
        ("", "empty name"),
        ("nested nul", {"a": ["\x00"]}),
    ],
)
def test_metadata_that_json_cannot_hold_is_refused(
    record: BucketRecord, db: SQLAlchemy, name: str, value: Any
) -> None:
    from invenio_records_files_ext.errors import InvalidMetadataError

    record.files["a.txt"] = stream()
    record.files["a.txt"]["kept"] = "yes"
    with pytest.raises(InvalidMetadataError):
        record.files["a.txt"][name] = value
    db.session.commit()
    assert reload(record)["_files"][0]["kept"] == "yes"
    assert name not in reload(record)["_files"][0] or name == "kept"


def test_linked_buckets_are_marked_as_records(
    db: SQLAlchemy, location: Location
) -> None:
    from invenio_files_rest.models import BucketTag

    from invenio_records_files_ext.access.ownership import OWNER_TAG, OWNER_VALUE

    record = Record.create({})
    bare = Record.create({}, with_bucket=False)
    foreign = Bucket.create()
    db.session.commit()
    assert BucketTag.get(record.bucket, OWNER_TAG).value == OWNER_VALUE
    assert BucketTag.get(foreign, OWNER_TAG) is None
    # Linking a bucket hands it to this package; linking twice tags once.
    RecordsBuckets.create(record=bare, bucket=foreign)
    RecordsBuckets.create(record=Record.create({}, with_bucket=False), bucket=foreign)
    db.session.commit()
    assert BucketTag.query.filter_by(bucket_id=foreign.id, key=OWNER_TAG).count() == 1


def test_bulk_attach_statement_count_does_not_grow(
    db: SQLAlchemy,
    location: Location,
    count_queries: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    counts = []
    for size in (5, 150):
        record = Record.create({})
        db.session.commit()
        files = Record.get_record(record.id).files
        with count_queries() as counter:
            files.update(("k{0}".format(i), stream(b"y")) for i in range(size))
            db.session.commit()
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def _revisions(db: SQLAlchemy, record_id: uuid.UUID) -> int:
    return len(Record.get_record(record_id).revisions)


def test_file_changes_leave_the_record_json_alone(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    """Only files change: no JSON rewrite, no new revision (history is in versions)."""
    before = (record.model.version_id, _revisions(db, record.id))
    record.files["a.txt"] = stream(b"a")
    record.files["a.txt"] = stream(b"a2")
    record.files["a.txt"]["note"] = "n"
    record.files.rename("a.txt", "b.txt")
    record.files["c.txt"] = stream(b"c")
    record.files.sort_by("c.txt")
    record.files.default_preview = "b.txt"
    del record.files["c.txt"]
    db.session.commit()
    stored = reload(record)
    assert (stored.model.version_id, _revisions(db, record.id)) == before
    assert "_files" not in stored.model.json
    assert "_default_preview" not in stored.model.json
    assert [entry["key"] for entry in stored["_files"]] == ["b.txt"]
    assert stored["_files"][0]["note"] == "n"
    assert stored["_default_preview"] == "b.txt"
    # File history lives in object versions: two contents and the rename.
    history = ObjectVersion.get_versions(stored.bucket, "a.txt").all()
    assert [obj.file_id is None for obj in history] == [True, False, False]


def test_explicit_commit_still_makes_a_revision(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    record.files["a.txt"] = stream(b"a")
    db.session.commit()
    stored = reload(record)
    before = _revisions(db, record.id)
    assert stored["_files"][0]["key"] == "a.txt"
    stored["title"] = "Renamed"
    stored.commit()
    db.session.commit()
    again = reload(record)
    assert _revisions(db, record.id) == before + 1
    assert again["title"] == "Renamed"
    assert "_files" not in again.model.json
    # The record still shows its files after the commit.
    assert stored["_files"][0]["key"] == "a.txt"
    assert again["_files"][0]["key"] == "a.txt"


def test_record_dict_shows_files_everywhere(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    import copy
    import json

    record.files["a.txt"] = stream(b"a")
    db.session.commit()
    for read in (
        lambda r: dict(r),
        lambda r: json.loads(json.dumps(r)),
        lambda r: copy.deepcopy(r),
        lambda r: dict(r.items()),
        lambda r: r.copy(),
        lambda r: {key: r[key] for key in r},
    ):
        assert read(reload(record))["_files"][0]["key"] == "a.txt"


def test_stored_copies_of_derived_keys_are_ignored(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    """A JSON still holding _files (not migrated, or a revert) does not mislead."""
    from sqlalchemy.orm.attributes import flag_modified

    record.files["a.txt"] = stream(b"a")
    db.session.commit()
    stored = reload(record)
    stored.model.json = {**stored.model.json, "_files": [{"key": "ghost.txt"}]}
    flag_modified(stored.model, "json")
    db.session.commit()
    assert [entry["key"] for entry in reload(record)["_files"]] == ["a.txt"]


def test_indexer_documents_carry_the_files(
    app: Flask, record: BucketRecord, db: SQLAlchemy
) -> None:
    from invenio_indexer.signals import before_record_index

    record.files["a.txt"] = stream(b"a")
    db.session.commit()
    stored = reload(record)
    document = {"title": stored["title"]}
    before_record_index.send(app, json=document, record=stored, index="records")
    assert document["_files"][0]["key"] == "a.txt"
    assert document["_files_summary"]["count"] == 1


def test_one_error_family(db: SQLAlchemy, location: Location) -> None:
    """Every error the package defines carries its status; a missing file is a 404 KeyError."""
    import invenio_records_files_ext.errors as errors

    for name in errors.__all__:
        error_class = getattr(errors, name)
        if (
            not isinstance(error_class, type)
            or error_class.__module__ != errors.__name__
        ):
            continue  # Invenio-Files-REST's, re-exported
        assert issubclass(error_class, errors.RecordsFilesError), name
        assert isinstance(error_class.code, int), name
    record = Record.create({})
    with pytest.raises(KeyError) as missing:
        files_of(record)["nothing.txt"]
    assert isinstance(missing.value, errors.FileNotInRecordError)
    assert missing.value.code == 404
    assert missing.value.key == missing.value.args[0] == "nothing.txt"
