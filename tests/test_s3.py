"""Record files stored in S3, through invenio-s3, against a real S3 server.

A moto S3 server runs on loopback for the whole session; every test gets a
fresh S3 bucket as the default location of an application configured for
invenio-s3. What is checked is what the library promises for any storage
backend: bytes written, read back, shared between versions, deleted only
after a committed purge, verified, and never left behind by a failed upload.
"""

import base64
import hashlib
import io
import json
import os
import zipfile
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.errors import FileSizeError
from invenio_files_rest.models import FileInstance, Location

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.archives import containers, zipreader
from invenio_records_files_ext.cli import records_files
from invenio_records_files_ext.errors import ChecksumMismatchError
from invenio_records_files_ext.models import RecordsBuckets
from invenio_records_files_ext.storage.reads import RandomAccess
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    files_of,
    md5,
    payload,
    stored_record,
    stream,
    upload,
)
from tests.s3server import S3_TEST_PART_SIZE, http_session, object_keys

pytestmark = pytest.mark.s3

MiB = 1024 * 1024

PART_SIZE = S3_TEST_PART_SIZE


#
# Helpers
#


def s3_key(bucket: str, uri: str) -> str:
    """Return the S3 object key of a file instance URI in ``bucket``."""
    prefix = "s3://{0}/".format(bucket)
    assert uri.startswith(prefix), uri
    return uri[len(prefix) :]


def keys_of(bucket: str, record: BucketRecord) -> dict[str, str]:
    """Return the S3 keys of a record's current files, by file key."""
    return {
        fileobj.key: s3_key(bucket, fileobj.obj.file.uri) for fileobj in record.files
    }


def object_bytes(s3: Any, bucket: str, key: str) -> bytes:
    """Read an object straight from S3."""
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def read_through_storage(record: BucketRecord, key: str) -> bytes:
    """Read a file's bytes through the application's storage (invenio-s3)."""
    with record.files[key].obj.file.storage().open("rb") as fp:
        data: bytes = fp.read()
        return data


def download(client: IsolatedClient, pid: str, key: str) -> bytes:
    """Download a file over REST, following invenio-s3's redirect to S3."""
    response = client.get("/records/{0}/files/{1}".format(pid, key))
    # invenio-s3 answers downloads with a redirect to a pre-signed URL: the
    # bytes come from the S3 server, not through the application.
    assert response.status_code == 302, response.data
    fetched = http_session().get(response.headers["Location"], timeout=30)
    assert fetched.status_code == 200, fetched.text
    return fetched.content


def reload(record: BucketRecord) -> BucketRecord:
    """Return a fresh copy of a record from the database."""
    fresh: BucketRecord = Record.get_record(record.id)
    return fresh


def run_verify(s3_app: Flask) -> Result:
    """Run ``flask records-files verify --all``."""
    return s3_app.test_cli_runner().invoke(records_files, ["verify", "--all"])


#
# Upload and download
#
def test_python_api_upload_lands_in_s3(
    s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any
) -> None:
    data = payload(300 * 1024, "api")
    record = Record.create({"title": "api"})
    files_of(record)["data.bin"] = stream(data)
    s3_db.session.commit()

    stored = reload(record)
    fileinstance = stored.files["data.bin"].obj.file
    assert fileinstance.uri.startswith("s3://{0}/".format(s3_bucket))
    assert fileinstance.size == len(data)
    assert fileinstance.checksum == md5(data)
    assert stored["_files"][0]["checksum"] == md5(data)
    key = s3_key(s3_bucket, fileinstance.uri)
    assert object_keys(s3, s3_bucket) == {key}
    assert object_bytes(s3, s3_bucket, key) == data
    assert read_through_storage(stored, "data.bin") == data


def test_rest_upload_and_download(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, s3_bucket: str, s3: Any
) -> None:
    data = payload(200 * 1024, "rest")
    pid = create_record(s3_client)
    response = upload(s3_client, pid, "data.bin", data)
    assert response.status_code == 200, response.data
    assert response.json["size"] == len(data)
    assert response.json["checksum"] == md5(data)

    record = stored_record(pid)
    key = s3_key(s3_bucket, record.files["data.bin"].obj.file.uri)
    assert object_keys(s3, s3_bucket) == {key}
    assert object_bytes(s3, s3_bucket, key) == data

    downloaded = download(s3_client, pid, "data.bin")
    assert downloaded == data
    assert md5(downloaded) == response.json["checksum"]


def test_rest_multipart_upload(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, s3_bucket: str, s3: Any
) -> None:
    data = payload(2 * PART_SIZE + PART_SIZE // 2, "multipart")
    pid = create_record(s3_client)
    base = "/records/{0}/files/big.bin".format(pid)
    init = s3_client.post(
        "{0}?uploads&size={1}&partSize={2}".format(base, len(data), PART_SIZE)
    )
    assert init.status_code == 200, init.data
    upload_id = init.json["id"]
    parts = list(enumerate(range(0, len(data), PART_SIZE)))
    # Last part first: each part must land at its own offset of the object.
    for number, start in reversed(parts):
        part = s3_client.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=data[start : start + PART_SIZE],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert part.status_code == 200, part.data
    done = s3_client.post("{0}?uploadId={1}".format(base, upload_id))
    assert done.status_code == 200, done.data
    assert json.loads(done.get_data().strip())["completed"] is True

    record = stored_record(pid)
    assert record.files.keys == ["big.bin"]
    fileinstance = record.files["big.bin"].obj.file
    assert fileinstance.size == len(data)
    assert fileinstance.checksum == md5(data)
    key = s3_key(s3_bucket, fileinstance.uri)
    # The parts were written into the one object: nothing else is left.
    assert object_keys(s3, s3_bucket) == {key}
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert object_bytes(s3, s3_bucket, key) == data
    assert download(s3_client, pid, "big.bin") == data


def test_aborted_or_purged_multipart_leaves_no_object(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, s3_bucket: str, s3: Any
) -> None:
    pid = create_record(s3_client)
    base = "/records/{0}/files/big.bin".format(pid)
    start = "{0}?uploads&size={1}&partSize={2}".format(base, 2 * PART_SIZE, PART_SIZE)
    upload_id = s3_client.post(start).json["id"]
    # Invenio-Files-REST creates the object, full size, when the upload starts.
    assert len(object_keys(s3, s3_bucket)) == 1
    assert (
        s3_client.delete("{0}?uploadId={1}".format(base, upload_id)).status_code == 204
    )
    assert object_keys(s3, s3_bucket) == set()

    assert s3_client.post(start).status_code == 200
    assert len(object_keys(s3, s3_bucket)) == 1
    stored_record(pid).delete(force=True)
    s3_db.session.commit()
    assert object_keys(s3, s3_bucket) == set()


def test_rest_delete_version_removes_object(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, s3_bucket: str, s3: Any
) -> None:
    pid = create_record(s3_client)
    first = upload(s3_client, pid, "a.txt", b"first").json["version_id"]
    upload(s3_client, pid, "a.txt", b"second")
    assert len(object_keys(s3, s3_bucket)) == 2
    url = "/records/{0}/files/a.txt?versionId={1}".format(pid, first)
    assert s3_client.delete(url).status_code == 204
    record = stored_record(pid)
    assert object_keys(s3, s3_bucket) == set(keys_of(s3_bucket, record).values())
    assert download(s3_client, pid, "a.txt") == b"second"


#
# New versions share bytes
#
def test_copy_shares_s3_objects(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, s3_bucket: str, s3: Any
) -> None:
    old_pid, new_pid = create_record(s3_client), create_record(s3_client)
    assert upload(s3_client, old_pid, "a.txt", b"first file").status_code == 200
    assert upload(s3_client, old_pid, "b.txt", b"second file").status_code == 200
    before = object_keys(s3, s3_bucket)
    assert len(before) == 2

    new = stored_record(new_pid)
    assert new.files.copy(stored_record(old_pid)) == ["a.txt", "b.txt"]
    s3_db.session.commit()

    assert object_keys(s3, s3_bucket) == before
    old, new = stored_record(old_pid), stored_record(new_pid)
    assert keys_of(s3_bucket, new) == keys_of(s3_bucket, old)
    assert read_through_storage(new, "a.txt") == b"first file"
    assert download(s3_client, new_pid, "b.txt") == b"second file"


#
# Purge
#
def _two_versions(db: SQLAlchemy) -> tuple[BucketRecord, BucketRecord]:
    """v1 with a.txt and b.txt; v2 shares a.txt, replaces b.txt, adds c.txt."""
    v1 = Record.create({"title": "v1"})
    files_of(v1)["a.txt"] = stream(b"shared bytes")
    files_of(v1)["b.txt"] = stream(b"v1 only")
    db.session.commit()
    v2 = Record.create({"title": "v2"})
    files_of(v2).copy(v1)
    files_of(v2)["b.txt"] = stream(b"v2 replacement")
    files_of(v2)["c.txt"] = stream(b"v2 only")
    db.session.commit()
    return reload(v1), reload(v2)


def test_purge_deletes_unshared_objects_only(
    s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any
) -> None:
    v1, v2 = _two_versions(s3_db)
    v1_keys, v2_keys = keys_of(s3_bucket, v1), keys_of(s3_bucket, v2)
    assert v1_keys["a.txt"] == v2_keys["a.txt"]
    assert object_keys(s3, s3_bucket) == set(v1_keys.values()) | set(v2_keys.values())

    v2.delete(force=True)
    s3_db.session.commit()

    # v2's own bytes are gone; the shared bytes and v1's stay, readable.
    assert object_keys(s3, s3_bucket) == set(v1_keys.values())
    v1 = reload(v1)
    assert read_through_storage(v1, "a.txt") == b"shared bytes"
    assert read_through_storage(v1, "b.txt") == b"v1 only"
    assert FileInstance.query.count() == 2

    v1.delete(force=True)
    s3_db.session.commit()
    assert object_keys(s3, s3_bucket) == set()
    assert FileInstance.query.count() == 0


def test_rolled_back_purge_deletes_nothing(
    s3_app: Flask, s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any
) -> None:
    v1, v2 = _two_versions(s3_db)
    before = object_keys(s3, s3_bucket)
    assert len(before) == 4

    v2.delete(force=True)
    s3_db.session.flush()
    s3_db.session.rollback()

    assert object_keys(s3, s3_bucket) == before
    v2 = reload(v2)
    assert read_through_storage(v2, "b.txt") == b"v2 replacement"
    assert read_through_storage(v2, "c.txt") == b"v2 only"
    assert run_verify(s3_app).exit_code == 0


#
# Verify
#
def test_verify_clean_corrupted_and_missing(
    s3_app: Flask, s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any
) -> None:
    record = Record.create({"title": "verify"})
    files_of(record)["good.txt"] = stream(b"good bytes")
    files_of(record)["corrupt.txt"] = stream(b"intact bytes")
    files_of(record)["gone.txt"] = stream(b"doomed bytes")
    s3_db.session.commit()
    keys = keys_of(s3_bucket, record)

    result = run_verify(s3_app)
    assert result.exit_code == 0, result.output
    assert "3 files" in result.output
    assert "0 problems" in result.output

    # Same size, other bytes: only the checksum can tell.
    s3.put_object(Bucket=s3_bucket, Key=keys["corrupt.txt"], Body=b"broken bytes")
    result = run_verify(s3_app)
    assert result.exit_code == 1, result.output
    problems = [line for line in result.output.splitlines() if "\t" in line]
    assert len(problems) == 1, result.output
    record_id, key, problem = problems[0].split("\t")
    assert (record_id, key) == (str(record.id), "corrupt.txt")
    assert problem.startswith("checksum mismatch"), problem

    s3.delete_object(Bucket=s3_bucket, Key=keys["gone.txt"])
    result = run_verify(s3_app)
    assert result.exit_code == 1, result.output
    rows = sorted(
        tuple(line.split("\t")) for line in result.output.splitlines() if "\t" in line
    )
    assert [(p[0], p[1]) for p in rows] == [
        (str(record.id), "corrupt.txt"),
        (str(record.id), "gone.txt"),
    ]
    assert rows[1][2].startswith("missing"), rows[1]
    assert "2 problems" in result.output

    # Shorter bytes: read back through s3fs, not from a cached object size.
    s3.put_object(Bucket=s3_bucket, Key=keys["good.txt"], Body=b"good")
    result = s3_app.test_cli_runner().invoke(records_files, ["verify", str(record.id)])
    assert result.exit_code == 1, result.output
    assert (
        "{0}\tgood.txt\tsize mismatch: stored 10 bytes, read 4".format(record.id)
        in result.output
    )
    assert "3 problems" in result.output


#
# Failed uploads leave nothing behind
#
def test_rest_content_md5_mismatch_leaves_no_object(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, s3_bucket: str, s3: Any
) -> None:
    pid = create_record(s3_client)
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    response = upload(s3_client, pid, "a.txt", b"the body", **{"Content-MD5": wrong})
    assert response.status_code == 400, response.data
    assert object_keys(s3, s3_bucket) == set()
    assert FileInstance.query.count() == 0
    assert stored_record(pid).files.keys == []


def test_api_content_md5_mismatch_leaves_no_object(
    s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any
) -> None:
    record = Record.create({"title": "md5"})
    s3_db.session.commit()
    with pytest.raises(ChecksumMismatchError):
        files_of(record).put(
            "a.txt", stream(b"the body"), content_md5=hashlib.md5(b"other").hexdigest()
        )
    assert object_keys(s3, s3_bucket) == set()
    s3_db.session.rollback()
    assert object_keys(s3, s3_bucket) == set()


def test_rolled_back_upload_leaves_no_object(
    s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any
) -> None:
    record = Record.create({"title": "rollback"})
    s3_db.session.commit()
    files_of(record)["a.txt"] = stream(b"never committed")
    # The bytes are written before the commit...
    assert len(object_keys(s3, s3_bucket)) == 1
    s3_db.session.rollback()
    # ...and deleted again when the transaction does not commit.
    assert object_keys(s3, s3_bucket) == set()
    assert reload(record).files.keys == []


@pytest.fixture()
def s3_limits(s3_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 MiB file size limit on new buckets of the S3 application."""
    monkeypatch.setitem(s3_app.config, "RECORDS_FILES_BUCKET_MAX_FILE_SIZE", MiB)


def test_upload_over_limit_leaves_no_object(
    s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any, s3_limits: None
) -> None:
    record = Record.create({"title": "limit"})
    s3_db.session.commit()
    # No size announced: the limit is only hit while the bytes stream to S3,
    # and Invenio-Files-REST closes (so uploads) the S3 file before giving up.
    with pytest.raises(FileSizeError):
        files_of(record)["big.bin"] = stream(payload(MiB + 1, "limit"))
    assert object_keys(s3, s3_bucket) == set()
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    s3_db.session.rollback()
    assert object_keys(s3, s3_bucket) == set()


#
# Garbage collection
#
def test_gc_removes_unused_bucket_objects(
    s3_app: Flask, s3_db: SQLAlchemy, s3_location: Location, s3_bucket: str, s3: Any
) -> None:
    kept = Record.create({"title": "kept"})
    files_of(kept)["a.txt"] = stream(b"shared")
    s3_db.session.commit()
    other = Record.create({"title": "unlinked"})
    files_of(other).copy(kept)
    files_of(other)["own.txt"] = stream(b"only in the unlinked bucket")
    s3_db.session.commit()
    own = keys_of(s3_bucket, other)["own.txt"]
    RecordsBuckets.query.filter_by(record_id=other.id).delete()
    s3_db.session.commit()

    result = s3_app.test_cli_runner().invoke(records_files, ["gc", "--delete"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 unused buckets." in result.output
    # Orphan bytes are only looked for in local folders.
    assert "is not a local folder: byte scan skipped" in result.output
    assert own not in object_keys(s3, s3_bucket)
    assert object_keys(s3, s3_bucket) == set(keys_of(s3_bucket, reload(kept)).values())
    assert run_verify(s3_app).exit_code == 0


#
# Files archive, Range and zip browsing
#
def big_zip(members: int = 60, size: int = 200 * 1024) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        for index in range(members):
            zipped.writestr("m{0:03d}.bin".format(index), os.urandom(size))
    return buffer.getvalue()


def test_archive_from_s3(s3_client: IsolatedClient, s3_db: SQLAlchemy) -> None:
    pid = create_record(s3_client)
    files = {"a.bin": os.urandom(700 * 1024), "b.txt": b"bee"}
    for key, data in files.items():
        assert upload(s3_client, pid, key, data).status_code == 200
    response = s3_client.get("/records/{0}/files-archive".format(pid))
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(response.data))
    zipped = zipfile.ZipFile(io.BytesIO(response.data))
    assert zipped.testzip() is None
    assert {name: zipped.read(name) for name in zipped.namelist()} == files


def test_range_through_the_s3_redirect(
    s3_client: IsolatedClient, s3_db: SQLAlchemy
) -> None:
    pid = create_record(s3_client)
    data = os.urandom(100 * 1024)
    upload(s3_client, pid, "r.bin", data)
    response = s3_client.get(
        "/records/{0}/files/r.bin".format(pid), headers={"Range": "bytes=10-19"}
    )
    # invenio-s3 sends the client to S3, which answers the range itself.
    assert response.status_code == 302
    fetched = http_session().get(
        response.headers["Location"], headers={"Range": "bytes=10-19"}, timeout=30
    )
    assert fetched.status_code == 206
    assert fetched.content == data[10:20]
    assert fetched.headers["Content-Range"] == "bytes 10-19/{0}".format(len(data))
    # A range outside the file: the redirect leads to S3's own 416.
    outside = "bytes={0}-".format(len(data) + 10)
    response = s3_client.get(
        "/records/{0}/files/r.bin".format(pid), headers={"Range": outside}
    )
    assert response.status_code == 302
    refused = http_session().get(
        response.headers["Location"], headers={"Range": outside}, timeout=30
    )
    assert refused.status_code == 416


def test_containers_on_s3_read_only_what_they_need(
    s3_client: IsolatedClient, s3_db: SQLAlchemy, s3_app: Flask
) -> None:
    containers.cache.clear()
    pid = create_record(s3_client)
    data = big_zip()
    assert upload(s3_client, pid, "big.zip", data).status_code == 200
    base = "/records/{0}/files/big.zip/container".format(pid)
    listing = s3_client.get(base)
    assert listing.status_code == 200, listing.data
    assert listing.json["total"] == 60
    page = s3_client.get(base + "?size=25").json
    assert len(page["entries"]) == 25 and "next" in page["links"]
    member = s3_client.get(base + "/m042.bin")
    expected = zipfile.ZipFile(io.BytesIO(data)).read("m042.bin")
    assert member.status_code == 200 and member.data == expected
    # Asked of S3: the directory, then one member (with s3fs's read-ahead).
    obj = stored_record(pid).files["big.zip"].obj
    limits = containers.limits()
    with RandomAccess(obj.file.storage(), len(data)) as source:
        directory = zipreader.read_directory(source, limits)
        assert source.requested_bytes < len(data) / 4
        found = directory.find("m010.bin")
        assert found is not None
        for _ in zipreader.open_member(source, found, limits):
            pass
        assert source.requested_bytes < len(data) / 2
    containers.cache.clear()


def test_processors_read_from_s3(s3_db: SQLAlchemy, s3_location: Location) -> None:
    record = Record.create({})
    files_of(record)["z.zip"] = stream(big_zip(members=3, size=10))
    s3_db.session.commit()
    assert files_of(record)["z.zip"]["_extracted"]["zip"]["members"] == 3
