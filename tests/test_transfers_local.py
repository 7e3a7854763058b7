"""Pending files and the three-step upload (local transfer), REST and Python."""

import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.errors import (
    ChecksumMismatchError,
    FileKeyExistsError,
    FilePendingError,
    FilesNotEmptyError,
    FilesNotEnabledError,
    InvalidTransferError,
    SizeMismatchError,
    TransferStateError,
)
from invenio_records_files_ext.models import FileTransfer
from tests.helpers import (
    JSON,
    IsolatedClient,
    QueryCounter,
    commit,
    create_record,
    files_of,
    files_url,
    init,
    put_content,
    stored_record,
    stream,
    upload,
)

DATA = b"a,b\n1,2\n"
MD5 = "md5:" + hashlib.md5(DATA).hexdigest()


def test_three_steps_through_rest(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    response = init(
        client,
        pid,
        [{"key": "a.csv", "size": len(DATA), "checksum": MD5, "metadata": {"k": 1}}],
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["enabled"] is True
    [entry] = body["entries"]
    assert entry["key"] == "a.csv"
    assert entry["status"] == "pending"
    assert entry["transfer"]["type"] == "L"
    assert entry["metadata"] == {"k": 1}
    assert entry["size"] == len(DATA)
    assert entry["links"]["content"].endswith("/files/a.csv/content")
    assert entry["links"]["commit"].endswith("/files/a.csv/commit")

    # Pending: listed as pending, never downloadable, not in _files.
    listing = client.get(files_url(pid)).json
    assert listing["contents"] == []
    assert [(e["key"], e["status"]) for e in listing["entries"]] == [
        ("a.csv", "pending")
    ]
    assert client.get(files_url(pid, "a.csv")).status_code == 404
    assert client.get(files_url(pid, "a.csv", "content")).status_code == 404
    record = client.get("/records/{0}".format(pid)).json
    assert "_files" not in record["metadata"]
    assert record["metadata"]["files"] == {"enabled": True}
    assert record["metadata"]["_files_summary"]["count"] == 0

    uploaded = put_content(client, pid, "a.csv", DATA)
    assert uploaded.status_code == 200, uploaded.json
    assert uploaded.json["status"] == "pending"
    assert uploaded.json["transfer"]["state"] == "received"
    assert client.get(files_url(pid, "a.csv", "content")).status_code == 404

    done = commit(client, pid, "a.csv")
    assert done.status_code == 200, done.json
    assert done.json["status"] == "completed"
    assert done.json["checksum"] == MD5
    assert done.json["metadata"] == {"k": 1}
    assert done.json["transfer"] == {"type": "L"}

    assert client.get(files_url(pid, "a.csv", "content")).data == DATA
    assert client.get(files_url(pid, "a.csv")).data == DATA
    rec = stored_record(pid)
    assert [f["key"] for f in rec["_files"]] == ["a.csv"]
    assert rec["_files"][0]["k"] == 1
    assert rec.files.bucket.size == len(DATA)
    assert db.session.query(FileTransfer).count() == 0
    # Committing again gives the file back.
    assert commit(client, pid, "a.csv").json["status"] == "completed"


def test_one_step_put_still_works_beside(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "one.txt", b"one").status_code == 200
    init(client, pid, [{"key": "two.txt"}])
    put_content(client, pid, "two.txt", b"two")
    commit(client, pid, "two.txt")
    rec = stored_record(pid)
    assert rec.files.keys == ["one.txt", "two.txt"]
    assert rec.files.bucket.size == 6


def test_pending_key_refuses_one_step_writes(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "p.txt"}])
    response = upload(client, pid, "p.txt", b"x")
    assert response.status_code == 409
    assert "pending" in response.json["message"]
    again = init(client, pid, [{"key": "p.txt"}])
    assert again.status_code == 409
    upload(client, pid, "done.txt", b"x")
    taken = init(client, pid, [{"key": "done.txt"}])
    assert taken.status_code == 409
    assert "already exists" in taken.json["message"]


def test_checks_size_and_checksum(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "a.csv", "size": 3, "checksum": MD5}])
    wrong_size = put_content(client, pid, "a.csv", b"abcd")
    assert wrong_size.status_code == 400, wrong_size.json
    assert "3" in wrong_size.json["message"]
    not_yet = commit(client, pid, "a.csv")
    assert not_yet.status_code == 400
    assert "not been uploaded" in not_yet.json["message"]
    assert put_content(client, pid, "a.csv", b"abc").status_code == 200
    mismatch = commit(client, pid, "a.csv")
    assert mismatch.status_code == 400
    assert MD5 in mismatch.json["message"]
    # Nothing changed: the file is still pending, its bytes may be sent again.
    rec = stored_record(pid)
    assert rec.files.transfers.get("a.csv").state == "received"
    assert len(rec.files) == 0


def test_init_errors_are_clear(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    cases = [
        ("not json", "JSON list"),
        ([], "non-empty"),
        ([{"size": 1}], "'key' is required"),
        ([{"key": "a", "bogus": 1}], "unknown field"),
        ([{"key": "a", "transfer": {"type": "X"}}], "unknown transfer type"),
        ([{"key": "a", "checksum": "sha1:00"}], "md5:"),
        ([{"key": "a", "size": -1}], "whole number"),
        ([{"key": "../a"}], "Invalid file key"),
        ([{"key": "a"}, {"key": "a"}], "more than once"),
        ([{"key": "a", "metadata": {"x": float("nan")}}], "Invalid metadata"),
        ([{"key": "a", "transfer": {"type": "F", "url": "http://x/"}}], "not allowed"),
        ([{"key": "a", "transfer": {"type": "M", "parts": 2}}], "size"),
    ]
    for body, message in cases:
        data = body if isinstance(body, str) else json.dumps(body)
        if "nan" in str(body):
            data = '[{"key": "a", "metadata": {"x": NaN}}]'
        response = client.post(files_url(pid), data=data, headers=JSON)
        assert response.status_code in (400, 409), (body, response.json)
        assert message in response.json["message"], (body, response.json)
    rec = stored_record(pid)
    assert len(rec.files.transfers) == 0


def test_delete_pending_gives_everything_back(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "a.csv", "size": len(DATA)}])
    rec = stored_record(pid)
    assert rec.files.bucket.size == len(DATA)  # reserved
    put_content(client, pid, "a.csv", DATA)
    assert client.delete(files_url(pid, "a.csv")).status_code == 204
    rec = stored_record(pid)
    assert rec.files.bucket.size == 0
    assert len(rec.files.transfers) == 0
    assert client.get(files_url(pid)).json["entries"] == []


def test_quota_counts_announced_sizes(
    app: Flask, client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    rec = stored_record(pid)
    rec.files.bucket.quota_size = 10
    db.session.commit()
    assert init(client, pid, [{"key": "a", "size": 6}]).status_code == 201
    over = init(client, pid, [{"key": "b", "size": 6}])
    assert over.status_code == 400, over.json
    assert "quota" in over.json["message"].lower()
    assert upload(client, pid, "c", b"12345").status_code == 400
    assert upload(client, pid, "c", b"1234").status_code == 200


def test_python_api(db: SQLAlchemy, location: Location) -> None:
    record = Record.create({"title": "t"})
    files = files_of(record)
    [pending] = files.transfers.init([{"key": "x.txt", "size": 3}])
    assert pending.state == "waiting"
    assert "x.txt" not in files
    assert len(files) == 0
    with pytest.raises(FilePendingError):
        files["x.txt"] = stream(b"abc")
    with pytest.raises(SizeMismatchError):
        files.transfers.set_content("x.txt", stream(b"abcd"), size=4)
    files.transfers.set_content("x.txt", stream(b"abc"))
    committed = files.transfers.commit("x.txt")
    assert committed.file.key == "x.txt"
    assert files["x.txt"].obj.file.size == 3
    with pytest.raises(FileKeyExistsError):
        files.transfers.init([{"key": "x.txt"}])
    files.transfers.init([{"key": "y.txt", "checksum": "md5:" + "0" * 32}])
    files.transfers.set_content("y.txt", stream(b"abc"))
    with pytest.raises(ChecksumMismatchError):
        files.transfers.commit("y.txt")
    with pytest.raises(TransferStateError):
        files.transfers.upload_part("y.txt", 1, stream(b"abc"))
    with pytest.raises(InvalidTransferError):
        files.transfers.init([{"key": "z", "transfer": {"type": "R"}}])
    db.session.commit()


def test_files_enabled(db: SQLAlchemy, location: Location) -> None:
    record = Record.create({"title": "t", "files": {"enabled": False}})
    assert record.bucket is None
    assert record.files is None
    assert record["files"] == {"enabled": False}
    record.files_enabled = True
    record.commit()
    db.session.commit()
    record = Record.get_record(record.id)
    assert record["files"] == {"enabled": True}
    assert record.bucket is not None
    record.files["a"] = stream(b"a")
    with pytest.raises(FilesNotEmptyError):
        record.files_enabled = False
    del record.files["a"]
    record.files_enabled = False
    record.commit()
    with pytest.raises(FilesNotEnabledError) as error:
        record.files["b"] = stream(b"b")
    assert error.value.code == 400
    db.session.commit()
    # With no flag in the JSON (older records) files count as enabled.
    legacy = Record.create({"title": "t"})
    del legacy["files"]
    assert legacy.files_enabled is True


def test_metadata_only_record_over_rest(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client, {"title": "t", "files": {"enabled": False}})
    assert client.get(files_url(pid)).json == {"enabled": False}
    refused = upload(client, pid, "a", b"a")
    assert refused.status_code == 400
    assert refused.json["message"] == "Files are not enabled for this record."
    assert init(client, pid, [{"key": "a"}]).status_code == 400
    record = client.get("/records/{0}".format(pid)).json["metadata"]
    record["files"] = {"enabled": True}
    updated = client.put(
        "/records/{0}".format(pid), data=json.dumps(record), headers=JSON
    )
    assert updated.status_code == 200, updated.json
    assert upload(client, pid, "a", b"a").status_code == 200


def test_max_file_size_applies_to_announced_and_received_sizes(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    rec = stored_record(pid)
    rec.files.bucket.max_file_size = 5
    db.session.commit()
    too_big = init(client, pid, [{"key": "big", "size": 6}])
    assert too_big.status_code == 400, too_big.json
    assert init(client, pid, [{"key": "unsized"}]).status_code == 201
    refused = put_content(client, pid, "unsized", b"123456")
    assert refused.status_code == 400, refused.json
    assert put_content(client, pid, "unsized", b"12345").status_code == 200
    assert commit(client, pid, "unsized").json["status"] == "completed"
    assert stored_record(pid).files.bucket.size == 5


def test_init_of_many_files_costs_constant_statements(
    client: IsolatedClient,
    db: SQLAlchemy,
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    pid = create_record(client)
    rec = stored_record(pid)
    counts = []
    for size in (5, 50):
        entries = [{"key": "{0}-{1}".format(size, n)} for n in range(size)]
        db.session.commit()
        # The commit expired the record and its bucket: load them before
        # counting, so that both rounds start alike.
        assert rec.files.bucket.id is not None
        with count_statements() as counter:
            rec.files.transfers.init(entries)
        counts.append(counter.count)
        db.session.commit()
    assert counts[0] == counts[1], counts
