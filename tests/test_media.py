"""Media files: a second set of files per record, with its own bucket and routes."""

import io
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.errors import BucketLockedError
from invenio_files_rest.models import Bucket, BucketTag, Location

from invenio_records_files_ext import signals
from invenio_records_files_ext.access.ownership import MEDIA_ROLE, ROLE_TAG
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.models import RecordsBuckets
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    files_of,
    media_of,
    receiving,
    storage_files,
    stored_record,
    stream,
    upload,
)

OCTETS = {"Content-Type": "application/octet-stream"}


def media_url(pid: str, key: str = "") -> str:
    return "/records/{0}/media-files{1}".format(pid, "/" + key if key else "")


def media_bucket_of(record: Record) -> Any:
    """Return ``record.media_bucket`` of a record the test knows has one."""
    bucket = record.media_bucket
    assert bucket is not None, "the record has no media files bucket"
    return bucket


def test_a_record_with_media_files(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "t"}, with_media_bucket=True)
    files_of(record)["paper.pdf"] = stream(b"pdf")
    media_of(record)["thumb.png"] = stream(b"png")
    db.session.commit()
    stored = Record.get_record(record.id)
    assert stored.media_bucket.id != stored.bucket.id
    assert stored["_media_bucket"] == str(stored.media_bucket.id)
    assert stored.files.keys == ["paper.pdf"]
    assert stored.media_files.keys == ["thumb.png"]
    assert [e["key"] for e in stored["_files"]] == ["paper.pdf"]
    assert [e["key"] for e in stored["_media_files"]] == ["thumb.png"]
    dumped = stored.dumps()
    assert [e["key"] for e in dumped["_media_files"]] == ["thumb.png"]
    assert dumped["_files_summary"]["count"] == 1
    tag = BucketTag.get(stored.media_bucket, ROLE_TAG)
    assert tag.value == MEDIA_ROLE
    # The JSON never stores the lists; _media_bucket survives updates.
    stored["_media_bucket"] = "tampered"
    stored.commit()
    db.session.commit()
    assert Record.get_record(record.id)["_media_bucket"] == str(stored.media_bucket.id)
    assert "_media_files" not in Record.get_record(record.id).model.json


def test_records_without_media_files(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    assert record.media_files is None
    assert "_media_files" not in record
    media = record.enable_media_files()
    media["a.png"] = stream(b"a")
    db.session.commit()
    stored = Record.get_record(record.id)
    assert stored.media_files.keys == ["a.png"]
    assert stored.files.keys == []
    assert stored.enable_media_files().bucket.id == stored.media_bucket.id
    # The files bucket is still found without the JSON's help.
    assert record.bucket is not None
    assert stored.bucket.id == record.bucket.id


def test_media_files_have_their_own_quota(
    app: Flask, db: SQLAlchemy, location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_MEDIA_BUCKET_QUOTA_SIZE", 5)
        record: BucketRecord = Record.create({}, with_media_bucket=True)
    files_of(record)["big.bin"] = stream(b"x" * 100)
    with pytest.raises(Exception) as raised:
        media_of(record)["big.png"] = stream(b"x" * 100)
    assert "quota" in str(raised.value).lower() or "size" in str(raised.value).lower()
    assert media_of(record).keys == []
    assert media_bucket_of(record).quota_size == 5
    assert record.bucket.quota_size is None


def test_media_routes(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    assert client.get(media_url(pid)).status_code == 404
    created = client.put(media_url(pid, "thumb.png"), data=b"png", headers=OCTETS)
    assert created.status_code == 200, created.data
    assert created.json["links"]["self"].endswith(media_url(pid, "thumb.png"))
    listing = client.get(media_url(pid))
    assert [c["key"] for c in listing.json["contents"]] == ["thumb.png"]
    assert listing.json["links"]["self"].endswith(media_url(pid))
    assert client.get(media_url(pid, "thumb.png")).data == b"png"
    assert client.get("/records/{0}/files".format(pid)).json["contents"] == []
    record = client.get("/records/{0}".format(pid)).json["metadata"]
    assert [e["key"] for e in record["_media_files"]] == ["thumb.png"]
    archive = client.get("/records/{0}/media-files-archive".format(pid))
    assert zipfile.ZipFile(io.BytesIO(archive.data)).namelist() == ["thumb.png"]
    assert (
        'filename="{0}-media.zip"'.format(pid) in archive.headers["Content-Disposition"]
        or "{0}-media.zip".format(pid) in archive.headers["Content-Disposition"]
    )
    # Invenio-Files-REST's route for the media bucket follows the record.
    bucket = str(media_bucket_of(stored_record(pid)).id)
    via_files_rest = client.get("/files/" + bucket)
    assert via_files_rest.status_code == 200
    assert via_files_rest.json["contents"][0]["links"]["self"].endswith(
        media_url(pid, "thumb.png")
    )
    assert client.delete(media_url(pid, "thumb.png")).status_code == 204
    assert client.get(media_url(pid)).json["contents"] == []


def test_media_files_follow_the_lock(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    client.put(media_url(pid, "m.png"), data=b"m", headers=OCTETS)
    record = stored_record(pid)
    with receiving(signals.files_locked) as locked:
        record.files.lock()
    assert len(locked) == 1
    db.session.commit()
    record = stored_record(pid)
    assert media_bucket_of(record).locked
    with pytest.raises(BucketLockedError):
        media_of(record)["n.png"] = stream(b"n")
    refused = client.put(media_url(pid, "n.png"), data=b"n", headers=OCTETS)
    assert refused.status_code == 403
    record.files.unlock()
    db.session.commit()
    assert not media_bucket_of(stored_record(pid)).locked


def test_locked_records_get_locked_media_files(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    files_of(record).lock()
    assert record.enable_media_files().locked


def test_new_versions_share_media_bytes(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    old = Record.create({}, with_media_bucket=True)
    files_of(old)["a.txt"] = stream(b"a")
    media_of(old)["a.png"] = stream(b"png")
    media_of(old)["a.png"]["alt"] = "A picture"
    files_of(old).lock()
    db.session.commit()
    on_disk = storage_files(location.uri)
    new = Record.create({})
    with receiving(signals.files_copied) as copied:
        assert files_of(new).copy(old) == ["a.txt"]
    assert len(copied) == 2
    db.session.commit()
    new = Record.get_record(new.id)
    assert new.media_files.keys == ["a.png"]
    assert new.media_files["a.png"]["alt"] == "A picture"
    assert media_of(new)["a.png"].obj.file_id == media_of(old)["a.png"].obj.file_id
    assert new["_media_bucket"] == str(new.media_bucket.id)
    assert storage_files(location.uri) == on_disk
    # Given the files view, not the record, only the files are copied.
    other = Record.create({})
    files_of(other).copy(files_of(old))
    assert other.media_files is None


def test_tombstone_and_restore(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    client.put(media_url(pid, "m.png"), data=b"m", headers=OCTETS)
    record = stored_record(pid)
    record.delete()
    db.session.commit()
    assert client.get(media_url(pid)).status_code == 410
    buckets = {b.id: b for b in Bucket.query.all()}
    assert all(bucket.locked for bucket in buckets.values())
    record = Record.get_record(record.id, with_deleted=True)
    record.undelete()
    record.commit()
    db.session.commit()
    restored = stored_record(pid)
    assert restored["_media_bucket"] == str(media_bucket_of(restored).id)
    assert not media_bucket_of(restored).locked
    assert media_of(restored).keys == ["m.png"]
    assert client.get(media_url(pid, "m.png")).data == b"m"


def test_purge_removes_media_bytes_not_shared(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    old = Record.create({}, with_media_bucket=True)
    media_of(old)["shared.png"] = stream(b"shared")
    db.session.commit()
    new = Record.create({})
    files_of(new).copy(old)
    media_of(new)["own.png"] = stream(b"own")
    db.session.commit()
    before = storage_files(location.uri)
    with receiving(signals.files_purged) as purged:
        new.delete(force=True)
    db.session.commit()
    assert len(purged) == 2
    after = storage_files(location.uri)
    assert len(before - after) == 1
    assert media_of(old)["shared.png"].obj.file.uri in after
    assert RecordsBuckets.query.filter_by(record_id=new.id).count() == 0


def test_restricted_files_restrict_media_files(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.users import as_user, owner_permissions

    with monkeypatch.context() as patch:
        owner_permissions(patch, app)
        pid = create_record(
            client,
            {"public": True, "owners": ["alice"], "access": {"files": "restricted"}},
        )
        upload(client, pid, "a.txt", b"a", **as_user("alice"))
        put = client.put(
            media_url(pid, "m.png"), data=b"m", headers={**OCTETS, **as_user("alice")}
        )
        assert put.status_code == 200, put.data
        assert client.get(media_url(pid, "m.png")).status_code == 401
        assert (
            client.get(media_url(pid, "m.png"), headers=as_user("alice")).data == b"m"
        )
