"""The file side of the record life cycle, and the hooks at each step."""

import json
from typing import Any, Optional
from uuid import UUID

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db
from invenio_files_rest.errors import BucketLockedError, InvalidOperationError
from invenio_files_rest.models import (
    Bucket,
    BucketTag,
    FileInstance,
    Location,
    ObjectVersion,
)
from invenio_records.models import RecordMetadata

from invenio_records_files_ext import signals
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.models import RecordsBuckets
from invenio_records_files_ext.records.lifecycle import TOMBSTONE_TAG
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    files_of,
    receiving,
    storage_files,
    stored_record,
    stream,
    upload,
)


def reload(record: BucketRecord, with_deleted: bool = False) -> BucketRecord:
    reloaded: BucketRecord = Record.get_record(record.id, with_deleted=with_deleted)
    return reloaded


def published(db: SQLAlchemy, files: Optional[dict[str, bytes]] = None) -> BucketRecord:
    """A record with files, locked as publishing does."""
    record = Record.create({"title": "v1"})
    for key, data in (files or {"a.txt": b"aaa", "b.txt": b"bbb"}).items():
        files_of(record)[key] = stream(data)
    files_of(record)["a.txt"]["description"] = "first file"
    files_of(record).default_preview = "a.txt"
    files_of(record).lock()
    db.session.commit()
    return record


#
# Lock
#
def test_lock_and_unlock(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["a.txt"] = stream()
    assert record.files.locked is False
    record.files.lock()
    record.files.lock()  # idempotent
    db.session.commit()
    stored = reload(record)
    assert stored.files.locked is True
    with pytest.raises(BucketLockedError):
        stored.files["b.txt"] = stream()
    with pytest.raises(InvalidOperationError):
        stored.files.update({"c.txt": stream()})
    with pytest.raises(InvalidOperationError):
        stored.files.default_preview = "a.txt"
    stored.files.unlock()
    db.session.commit()
    stored = reload(record)
    assert stored.files.locked is False
    stored.files["b.txt"] = stream()
    db.session.commit()
    assert reload(record).files.keys == ["a.txt", "b.txt"]


#
# New version
#
def test_copy_shares_bytes_and_metadata(db: SQLAlchemy, location: Location) -> None:
    v1 = published(db)
    instances = FileInstance.query.count()
    on_disk = storage_files(location.uri)
    v2 = Record.create({"title": "v2"})
    assert files_of(v2).copy(v1) == ["a.txt", "b.txt"]
    db.session.commit()
    v2 = reload(v2)
    assert v2.files.keys == ["a.txt", "b.txt"]
    assert v2.files.locked is False
    assert v2.files["a.txt"]["description"] == "first file"
    assert v2.files.default_preview == "a.txt"
    for key in v1.files.keys:
        assert v2.files[key].file_id == v1.files[key].file_id
        assert v2.files[key].version_id != v1.files[key].version_id
    assert FileInstance.query.count() == instances
    assert storage_files(location.uri) == on_disk
    assert v2.bucket.size == v1.bucket.size


def test_copy_then_changes_stay_apart(db: SQLAlchemy, location: Location) -> None:
    v1 = published(db)
    v2 = Record.create({"title": "v2"})
    files_of(v2).copy(files_of(v1))
    files_of(v2)["a.txt"] = stream(b"changed in v2")
    files_of(v2)["a.txt"]["description"] = "changed"
    del files_of(v2)["b.txt"]
    files_of(v2)["new.txt"] = stream(b"new")
    db.session.commit()
    v1 = reload(v1)
    assert v1.files.keys == ["a.txt", "b.txt"]
    assert v1.files["a.txt"]["description"] == "first file"
    with v1.files["a.txt"].file.storage().open() as fp:
        assert fp.read() == b"aaa"
    assert reload(v2).files.keys == ["a.txt", "new.txt"]


def test_copy_into_locked_or_same_record_is_refused(
    db: SQLAlchemy, location: Location
) -> None:
    v1 = published(db)
    with pytest.raises(InvalidOperationError):
        v1.files.copy(v1)
    v2 = Record.create({})
    files_of(v2).lock()
    with pytest.raises(InvalidOperationError):
        files_of(v2).copy(v1)
    draft = Record.create({})
    with pytest.raises(ValueError):
        files_of(draft).copy(draft)


def test_copy_keeps_tags(db: SQLAlchemy, location: Location) -> None:
    from invenio_files_rest.models import ObjectVersionTag

    v1 = published(db)
    ObjectVersionTag.create(v1.files["a.txt"].obj, "origin", "scanner")
    db.session.commit()
    v2 = Record.create({})
    files_of(v2).copy(v1)
    db.session.commit()
    assert reload(v2).files["a.txt"].obj.get_tags() == {"origin": "scanner"}


#
# Tombstone and restore
#
def test_soft_delete_locks_and_restore_brings_back(
    db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "draft"})
    files_of(record)["a.txt"] = stream(b"a")
    files_of(record)["b.txt"] = stream(b"b")
    files_of(record)["b.txt"]["role"] = "data"
    files_of(record).sort_by("b.txt")
    files_of(record).default_preview = "b.txt"
    db.session.commit()
    entries = json.loads(json.dumps(reload(record)["_files"]))

    reload(record).delete()
    db.session.commit()
    deleted = reload(record, with_deleted=True)
    assert deleted.model.is_deleted
    assert deleted.bucket.locked is True
    assert BucketTag.get(deleted.bucket, TOMBSTONE_TAG) is not None
    with pytest.raises(InvalidOperationError):
        deleted.files.unlock()
    with pytest.raises(BucketLockedError):
        deleted.files["c.txt"] = stream()

    deleted.undelete()
    db.session.commit()
    restored = reload(record)
    assert restored["_files"] == entries
    assert restored["_default_preview"] == "b.txt"
    assert restored.files.locked is False
    assert BucketTag.get(restored.bucket, TOMBSTONE_TAG) is None
    restored.files["c.txt"] = stream()
    db.session.commit()


def test_restore_keeps_the_lock_it_had(db: SQLAlchemy, location: Location) -> None:
    record = published(db)
    record.delete()
    db.session.commit()
    deleted = reload(record, with_deleted=True)
    deleted.undelete()
    db.session.commit()
    assert reload(record).files.locked is True
    assert reload(record).files.keys == ["a.txt", "b.txt"]


def test_rest_routes_of_tombstone_answer_410_then_come_back(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    record = stored_record(pid)
    record.delete()
    db.session.commit()
    gone = client.get("/records/{0}/files/a.txt".format(pid))
    assert gone.status_code == 410
    assert gone.json["message"]
    record = Record.get_record(record.id, with_deleted=True)
    record.undelete()
    db.session.commit()
    assert client.get("/records/{0}/files/a.txt".format(pid)).data == b"a"


#
# Purge
#
def test_purge_reclaims_only_unshared_bytes(db: SQLAlchemy, location: Location) -> None:
    v1 = published(db)
    v2 = Record.create({"title": "v2"})
    files_of(v2).copy(v1)
    files_of(v2)["b.txt"] = stream(b"b in v2")
    v1.files.unlock()
    v1.files["only-v1.txt"] = stream(b"only in v1")
    db.session.commit()
    before = storage_files(location.uri)
    assert len(before) == 4
    shared_uri = v1.files["a.txt"].file.uri
    only_v1_uri = v1.files["only-v1.txt"].file.uri
    bucket_id = v1.bucket.id

    reload(v1).delete(force=True)
    db.session.commit()
    after = storage_files(location.uri)
    assert after == before - {only_v1_uri}
    assert shared_uri in after
    assert db.session.get(RecordMetadata, v1.id) is None
    assert db.session.get(Bucket, bucket_id) is None
    assert ObjectVersion.query.filter_by(bucket_id=bucket_id).count() == 0
    assert RecordsBuckets.query.filter_by(bucket_id=bucket_id).count() == 0
    v2 = reload(v2)
    with v2.files["a.txt"].file.storage().open() as fp:
        assert fp.read() == b"aaa"
    # v1's b.txt is still an older version of v2's b.txt: kept.
    assert FileInstance.query.count() == 3
    assert [v.file.size for v in v2.files["b.txt"].get_versions()] == [7, 3]

    v2.delete(force=True)
    db.session.commit()
    assert storage_files(location.uri) == set()
    assert FileInstance.query.count() == 0


def test_purge_rolled_back_loses_nothing(db: SQLAlchemy, location: Location) -> None:
    record = published(db)
    before = storage_files(location.uri)
    reload(record).delete(force=True)
    db.session.rollback()
    assert storage_files(location.uri) == before
    assert reload(record).files.keys == ["a.txt", "b.txt"]


def test_purge_never_published_draft_and_tombstone(
    db: SQLAlchemy, location: Location
) -> None:
    draft = Record.create({})
    files_of(draft)["a.txt"] = stream(b"draft bytes")
    db.session.commit()
    reload(draft).delete(force=True)
    db.session.commit()
    assert storage_files(location.uri) == set()
    tombstone = published(db)
    tombstone.delete()
    db.session.commit()
    reload(tombstone, with_deleted=True).delete(force=True)
    db.session.commit()
    assert storage_files(location.uri) == set()
    assert Bucket.query.count() == 0


def test_purge_removes_multipart_uploads(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", 4)
    pid = create_record(client)
    client.post("/records/{0}/files/big.bin?uploads&size=10&partSize=4".format(pid))
    assert len(storage_files(location.uri)) == 1
    stored_record(pid).delete(force=True)
    db.session.commit()
    assert storage_files(location.uri) == set()


#
# Hooks
#
def test_hooks_receive_their_arguments(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    with receiving(signals.file_added) as added:
        files_of(record)["a.txt"] = stream(b"a")
    assert added[0]["record"] is record
    assert added[0]["file"].key == "a.txt"
    record.files["a.txt"]["m"] = 1
    with receiving(signals.file_replaced) as replaced:
        record.files["a.txt"] = stream(b"a2")
    assert replaced[0]["previous"]["m"] == 1
    assert replaced[0]["file"].file.size == 2
    with receiving(signals.file_renamed) as renamed:
        record.files.rename("a.txt", "b.txt")
    assert (renamed[0]["old_key"], renamed[0]["new_key"]) == ("a.txt", "b.txt")
    with receiving(signals.file_deleted) as deleted:
        del record.files["b.txt"]
    assert deleted[0]["key"] == "b.txt"
    with receiving(signals.file_added) as added:
        record.files.update({"x": stream(b"x"), "y": stream(b"y")})
    assert [call["file"].key for call in added] == ["x", "y"]
    with receiving(signals.files_locked) as locked:
        record.files.lock()
    with receiving(signals.files_unlocked) as unlocked:
        record.files.unlock()
    assert locked and unlocked
    other = Record.create({})
    with receiving(signals.files_copied) as copied:
        files_of(other).copy(record)
    assert copied[0]["source"] is record and copied[0]["keys"] == ["x", "y"]
    db.session.commit()
    with receiving(signals.files_soft_deleted) as buried:
        record.delete()
    with receiving(signals.files_restored) as restored:
        record.undelete()
    assert buried[0]["record"] is record and restored[0]["record"] is record
    with receiving(signals.files_purged) as purged:
        other.delete(force=True)
    assert purged[0]["file_ids"] == []
    db.session.commit()


def _state(record_id: UUID, location: Location) -> dict[str, Any]:
    """Everything a failed step must leave as it was."""
    record = Record.get_record(record_id, with_deleted=True)
    bucket = db.session.get(Bucket, record.bucket.id) if record.bucket else None
    return {
        "deleted": record.model.is_deleted,
        "json": json.dumps(record.model.json, sort_keys=True),
        "locked": bucket.locked if bucket else None,
        "objects": (
            sorted(
                (str(o.version_id), o.key, o.is_head, str(o.file_id))
                for o in ObjectVersion.query.filter_by(bucket_id=bucket.id)
            )
            if bucket
            else None
        ),
        "tags": sorted((t.key, t.value) for t in BucketTag.query.all()),
        "files": FileInstance.query.count(),
        "disk": storage_files(location.uri),
        "buckets": Bucket.query.count(),
        "records": RecordMetadata.query.count(),
    }


STEPS = {
    "file_added": lambda r, o: r.files.put("new.txt", stream(b"new")),
    "file_added (bulk)": lambda r, o: r.files.update(
        {"n1": stream(b"1"), "n2": stream(b"2")}
    ),
    "file_replaced": lambda r, o: r.files.put("a.txt", stream(b"replacement")),
    "file_deleted": lambda r, o: r.files.delete("a.txt"),
    "file_renamed": lambda r, o: r.files.rename("a.txt", "z.txt"),
    "files_locked": lambda r, o: r.files.lock(),
    "files_copied": lambda r, o: o.files.copy(r),
    "files_soft_deleted": lambda r, o: r.delete(),
    "files_purged": lambda r, o: r.delete(force=True),
}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_failing_hook_changes_nothing(
    db: SQLAlchemy, location: Location, name: str
) -> None:
    record = Record.create({"title": "hooked"})
    files_of(record)["a.txt"] = stream(b"a")
    files_of(record)["a.txt"]["m"] = "meta"
    files_of(record)["b.txt"] = stream(b"b")
    other = Record.create({"title": "other"})
    db.session.commit()
    record, other = reload(record), reload(other)
    before = _state(record.id, location)
    in_memory = json.dumps(record.get("_files"), sort_keys=True)
    signal = getattr(signals, name.split(" ")[0])
    with receiving(signal, fail=True) as calls:
        with pytest.raises(RuntimeError, match="hook refused"):
            STEPS[name](record, other)
    assert calls
    assert json.dumps(record.get("_files"), sort_keys=True) == in_memory
    db.session.commit()
    assert _state(record.id, location) == before
    assert reload(other).get("_files", []) == []
    # The record still works normally afterwards.
    record = reload(record)
    record.files["after.txt"] = stream(b"after")
    db.session.commit()


@pytest.mark.parametrize("name", ["files_unlocked", "files_restored"])
def test_failing_hook_on_unlock_and_restore(
    db: SQLAlchemy, location: Location, name: str
) -> None:
    record = published(db)
    if name == "files_restored":
        record.delete()
        db.session.commit()
    record = reload(record, with_deleted=True)
    before = _state(record.id, location)
    with receiving(getattr(signals, name), fail=True):
        with pytest.raises(RuntimeError):
            if name == "files_unlocked":
                record.files.unlock()
            else:
                record.undelete()
    db.session.commit()
    assert _state(record.id, location) == before
