"""Multipart transfers: parts through the application (local storage) and
straight to S3 with presigned URLs (moto), as a browser would send them."""

from typing import Any

import pytest
import requests
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location
from sqlalchemy import event

from invenio_records_files_ext.files import pending_rows
from invenio_records_files_ext.models import FileTransfer
from tests.helpers import (
    IsolatedClient,
    commit,
    create_record,
    files_url,
    init,
    md5,
    multipart,
    payload,
    storage_files,
    stored_record,
)
from tests.s3server import http_session, object_keys

MiB = 1024 * 1024


def test_parts_through_the_app(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    data = payload(1000)
    pid = create_record(client)
    response = init(client, pid, [multipart("m.bin", data, 3, 400)])
    assert response.status_code == 201, response.json
    [entry] = response.json["entries"]
    assert entry["transfer"]["type"] == "M"
    assert entry["transfer"]["parts"] == 3
    parts = entry["links"]["parts"]
    assert [p["part"] for p in parts] == [1, 2, 3]
    assert parts[0]["url"].endswith("/files/m.bin/content/1")
    assert "content" not in entry["links"]
    assert stored_record(pid).files.bucket.size == 1000  # reserved

    pieces = [data[:400], data[400:800], data[800:]]
    # Parts in any order; a part of the wrong length is refused.
    wrong = client.put(parts[0]["url"], data=b"x" * 10)
    assert wrong.status_code == 400
    assert "400 bytes" in wrong.json["message"]
    for number in (3, 1):
        put = client.put(parts[number - 1]["url"], data=pieces[number - 1])
        assert put.status_code == 200, put.json
    missing = commit(client, pid, "m.bin")
    assert missing.status_code == 400
    assert "Parts missing" in missing.json["message"] and "2" in missing.json["message"]
    assert client.put(parts[1]["url"], data=pieces[1]).status_code == 200
    done = commit(client, pid, "m.bin")
    assert done.status_code == 200, done.json
    assert done.json["status"] == "completed"
    assert done.json["checksum"] == md5(data)
    assert client.get(files_url(pid, "m.bin", "content")).data == data
    record = stored_record(pid)
    assert record.files.bucket.size == 1000
    assert db.session.query(FileTransfer).count() == 0


def test_multipart_checksum_mismatch_keeps_it_pending(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    data = payload(100)
    pid = create_record(client)
    entry = multipart("m.bin", data, 2, 50)
    entry["checksum"] = md5(b"other")
    [listed] = init(client, pid, [entry]).json["entries"]
    for part in listed["links"]["parts"]:
        n = part["part"]
        client.put(part["url"], data=data[(n - 1) * 50 : n * 50])
    response = commit(client, pid, "m.bin")
    assert response.status_code == 400
    assert "does not match" in response.json["message"]
    assert client.get(files_url(pid)).json["entries"][0]["status"] == "pending"
    assert client.delete(files_url(pid, "m.bin")).status_code == 204
    assert storage_files(location.uri) == set()
    assert stored_record(pid).files.bucket.size == 0


def test_layout_errors(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    bad = init(client, pid, [multipart("m", payload(100), 2, 10)])
    assert bad.status_code == 400
    assert "cannot hold" in bad.json["message"]
    init(client, pid, [multipart("m", payload(100), 2, 50)])
    no_part = client.put(files_url(pid, "m", "content", "3"), data=b"x" * 50)
    assert no_part.status_code == 400
    assert "parts 1 to 2" in no_part.json["message"]
    not_local = client.put(
        files_url(pid, "m", "content"),
        data=b"x",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert not_local.status_code == 400
    assert (
        "multipart" in not_local.json["message"].lower()
        or "M transfer" in not_local.json["message"]
    )


#
# S3: parts go to presigned URLs, never through the application
#

S3_PART = 5 * MiB


def browser_put(url: str, data: bytes) -> requests.Response:
    """PUT a part to a presigned URL as a browser would: plain HTTP."""
    response = http_session().put(url, data=data, timeout=60)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.s3
def test_direct_to_s3(
    s3_app: Flask, s3_client: IsolatedClient, s3_db: SQLAlchemy, s3: Any, s3_bucket: str
) -> None:
    data = payload(S3_PART + 1234, "s3")
    with s3_app.app_context():
        pid = create_record(s3_client)
        response = init(s3_client, pid, [multipart("big.bin", data, 2, S3_PART)])
        assert response.status_code == 201, response.json
        [entry] = response.json["entries"]
        parts = entry["links"]["parts"]
        assert all(p["url"].startswith("http://127.0.0.1:") for p in parts)
        assert "/files/" not in parts[0]["url"]  # not the application
        assert "X-Amz-Signature" in parts[0]["url"]
        # The application refuses parts meant for S3.
        through_app = s3_client.put(
            files_url(pid, "big.bin", "content", "1"), data=data[:S3_PART]
        )
        assert through_app.status_code == 400
        browser_put(parts[1]["url"], data[S3_PART:])
        browser_put(parts[0]["url"], data[:S3_PART])
        done = commit(s3_client, pid, "big.bin")
        # Eager Celery: the verification ran after the commit's commit.
        assert done.status_code == 202, done.json
        listed = s3_client.get(files_url(pid)).json["entries"]
        assert [(e["key"], e["status"]) for e in listed] == [("big.bin", "completed")]
        redirect = s3_client.get(files_url(pid, "big.bin", "content"))
        assert redirect.status_code == 302
        fetched = http_session().get(redirect.headers["Location"], timeout=30)
        assert fetched.content == data
        record = stored_record(pid)
        assert record["_files"][0]["checksum"] == md5(data)
        assert record.files.bucket.size == len(data)
        assert len(object_keys(s3, s3_bucket)) == 1


@pytest.mark.s3
def test_direct_to_s3_bad_checksum_leaves_nothing(
    s3_app: Flask, s3_client: IsolatedClient, s3_db: SQLAlchemy, s3: Any, s3_bucket: str
) -> None:
    data = payload(S3_PART + 10, "bad")
    entry = multipart("bad.bin", data, 2, S3_PART)
    entry["checksum"] = md5(b"something else")
    with s3_app.app_context():
        pid = create_record(s3_client)
        [listed] = init(s3_client, pid, [entry]).json["entries"]
        for part in listed["links"]["parts"]:
            n = part["part"]
            browser_put(part["url"], data[(n - 1) * S3_PART : n * S3_PART])
        assert commit(s3_client, pid, "bad.bin").status_code == 202
        [failed] = s3_client.get(files_url(pid)).json["entries"]
        assert failed["status"] == "failed"
        assert "checksum" in failed["transfer"]["error"]
        assert object_keys(s3, s3_bucket) == set()
        assert stored_record(pid).files.bucket.size == 0


@pytest.mark.s3
def test_abandoned_s3_upload_is_aborted(
    s3_app: Flask, s3_client: IsolatedClient, s3_db: SQLAlchemy, s3: Any, s3_bucket: str
) -> None:
    data = payload(S3_PART + 10, "abort")
    with s3_app.app_context():
        pid = create_record(s3_client)
        [listed] = init(s3_client, pid, [multipart("a.bin", data, 2, S3_PART)]).json[
            "entries"
        ]
        browser_put(listed["links"]["parts"][0]["url"], data[:S3_PART])
        assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
        assert s3_client.delete(files_url(pid, "a.bin")).status_code == 204
        assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
        assert object_keys(s3, s3_bucket) == set()


def test_a_part_reads_the_bucket_and_its_pending_file_once_per_transaction(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    """A part costs few statements: after the bytes are written nothing the
    request already read is loaded again, but what it must re-read under
    the bucket's lock (the bucket's size and state, the pending file)."""
    data = payload(300)
    pid = create_record(client)
    [listed] = init(client, pid, [multipart("m.bin", data, 3, 100)]).json["entries"]
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    for part in listed["links"]["parts"]:
        number = part["part"]
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            response = client.put(
                part["url"], data=data[(number - 1) * 100 : number * 100]
            )
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert response.status_code == 200, response.json
        buckets = [
            s for s in seen if s.startswith("SELECT") and "FROM files_bucket" in s
        ]
        # The record's buckets, then the locked re-read of size and state.
        assert len(buckets) == 2, buckets
        # FOR NO KEY UPDATE on PostgreSQL; SQLite has no row locks.
        assert "UPDATE" in buckets[1] or db.engine.dialect.name == "sqlite"
        pending = [s for s in seen if "JOIN records_files_transfer" in s]
        # Before the bytes are written, then under the key's lock.
        assert len(pending) == 2, pending
    assert commit(client, pid, "m.bin").status_code == 200


def test_a_parts_statements_are_built_once_and_change_only_their_columns(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    """Each part reads its pending file and changes its transfer row with
    statements built once per process; a change of some columns leaves the
    others as they were."""
    data = payload(200)
    pid = create_record(client)
    [listed] = init(client, pid, [multipart("m.bin", data, 2, 100)]).json["entries"]
    pending_rows._key_statement()
    pending_rows._change_statement(("json", "updated"))  # what a part changes
    reads, changes = (
        pending_rows._key_statement.cache_info(),
        pending_rows._change_statement.cache_info(),
    )
    for part in listed["links"]["parts"]:
        number = part["part"]
        chunk = data[(number - 1) * 100 : number * 100]
        assert client.put(part["url"], data=chunk).status_code == 200
    # Two reads and one change per part, none of them built again.
    assert pending_rows._key_statement.cache_info().hits >= reads.hits + 4
    assert pending_rows._key_statement.cache_info().misses == reads.misses
    assert pending_rows._change_statement.cache_info().hits >= changes.hits + 2
    assert pending_rows._change_statement.cache_info().misses == changes.misses
    found = pending_rows.get(stored_record(pid).bucket_id, "m.bin")
    assert found is not None and found.details["received"] == [1, 2]
    pending_rows.change(found.entry_id, error="stalled")
    changed = pending_rows.get(found.bucket_id, "m.bin")
    assert changed is not None
    assert (changed.error, changed.details, changed.state) == (
        "stalled",
        found.details,
        found.state,
    )
    assert changed.updated >= found.updated
