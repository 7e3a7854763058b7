"""Several checksums per file (RECORDS_FILES_CHECKSUMS), on every upload path.

MD5 stays in Files-REST's ``FileInstance.checksum``; the other algorithms
are rows of ``records_files_checksums``. Every path computes all of them
in the one read of the bytes it makes anyway; entries, listings and dumps
show them as ``checksums``; a client may announce a SHA-256 and the commit
checks it.
"""

import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Optional

import pytest
import requests
from click.testing import Result
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import FileInstance, Location

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.models import FileChecksum
from invenio_records_files_ext.storage import checksums
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    QueryCounter,
    commit,
    create_record,
    files_url,
    init,
    md5,
    multipart,
    payload,
    put_content,
    stored_record,
    upload,
)
from tests.httpserver import SourceServer
from tests.s3server import http_session
from tests.servers import Server

MiB = 1024 * 1024
TWO = ["md5", "sha256"]


def sums(data: bytes, *names: str) -> dict[str, str]:
    """Algorithm -> hex digest of ``data``, MD5 first."""
    return {name: hashlib.new(name, data).hexdigest() for name in ("md5", *names)}


def sha256(data: bytes) -> str:
    """The announced form of a SHA-256."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def rows_of(file_id: uuid.UUID) -> dict[str, str]:
    """The stored rows beside the MD5 of one file instance."""
    found: list[FileChecksum] = FileChecksum.query.filter_by(file_id=file_id).all()
    return {row.algorithm: row.value for row in found}


@pytest.fixture()
def two(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """MD5 and SHA-256 kept for every file."""
    monkeypatch.setitem(app.config, "RECORDS_FILES_CHECKSUMS", TWO)


class CountingReader:
    """A stream that counts the bytes read through it."""

    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.read_bytes += len(chunk)
        return chunk


#
# The seam
#
def test_algorithms_are_checked_and_md5_comes_first(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert checksums.normalise_algorithms(["sha256", "MD5", "sha256"]) == (
        "md5",
        "sha256",
    )
    with pytest.raises(checksums.UnknownAlgorithmError):
        checksums.normalise_algorithms(["crc32"])
    monkeypatch.setitem(app.config, "RECORDS_FILES_CHECKSUMS", ["blake2b"])
    with app.app_context():
        assert checksums.configured_algorithms() == ("md5", "blake2b")
    assert checksums.parse_checksum("SHA256:" + "A" * 64) == ("sha256", "a" * 64)
    assert checksums.parse_checksum("sha256:" + "a" * 32) is None
    assert checksums.parse_checksum("crc32:00000000") is None


def test_python_put_keeps_every_algorithm_in_one_read(
    two: None, record: BucketRecord, db: SQLAlchemy
) -> None:
    data = os.urandom(3 * MiB + 5)
    reader = CountingReader(data)
    record.files["a.bin"] = reader
    db.session.commit()
    assert reader.read_bytes == len(data)  # each byte read once
    fileinstance = record.files["a.bin"].obj.file
    assert fileinstance.checksum == md5(data)
    assert rows_of(fileinstance.id) == {"sha256": hashlib.sha256(data).hexdigest()}
    db.session.expire_all()
    stored = db.session.get(FileInstance, fileinstance.id)
    assert checksums.stored_checksums(stored) == sums(data, "sha256")
    again = Record.get_record(record.id)
    assert again["_files"][0]["checksums"] == sums(data, "sha256")
    assert again.files["a.bin"].dumps()["checksums"] == sums(data, "sha256")
    assert again.files.dumps()[0]["checksums"] == sums(data, "sha256")


def test_files_stored_before_keep_working(
    app: Flask, record: BucketRecord, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    record.files["old.bin"] = io.BytesIO(b"old bytes")
    db.session.commit()
    file_id = record.files["old.bin"].obj.file.id
    assert rows_of(file_id) == {}
    monkeypatch.setitem(app.config, "RECORDS_FILES_CHECKSUMS", TWO)
    again = Record.get_record(record.id)
    assert again["_files"][0]["checksums"] == sums(b"old bytes")
    assert checksums.stored_checksums(again.files["old.bin"].obj.file) == sums(
        b"old bytes"
    )
    again.files["new.bin"] = io.BytesIO(b"new bytes")
    db.session.commit()
    listed = {e["key"]: e["checksums"] for e in Record.get_record(record.id)["_files"]}
    assert listed == {
        "old.bin": sums(b"old bytes"),
        "new.bin": sums(b"new bytes", "sha256"),
    }


def test_rows_go_with_their_file_instance(
    two: None, db: SQLAlchemy, location: Location
) -> None:
    fileinstance = FileInstance(id=uuid.uuid4(), size=3)
    checksums.save_checksums(fileinstance, sums(b"abc", "sha256", "sha512"))
    db.session.add(fileinstance)
    db.session.commit()
    assert set(rows_of(fileinstance.id)) == {"sha256", "sha512"}
    # New bytes: what no longer holds goes.
    checksums.save_checksums(fileinstance, sums(b"abd", "sha256"), replace=True)
    db.session.commit()
    assert rows_of(fileinstance.id) == {"sha256": hashlib.sha256(b"abd").hexdigest()}
    file_id = fileinstance.id
    db.session.delete(fileinstance)
    db.session.commit()
    assert rows_of(file_id) == {}


def test_only_md5_costs_no_statement_more(
    record: BucketRecord,
    db: SQLAlchemy,
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    """With the default setting nothing is written beside Files-REST's row."""
    with count_statements() as counted:
        record.files["a.bin"] = io.BytesIO(b"abc")
        db.session.commit()
    assert not any("records_files_checksums" in s for s in counted.statements)


#
# REST: one step, three steps, listings
#
def test_one_step_put_and_listings_show_all_checksums(
    two: None, client: IsolatedClient, db: SQLAlchemy
) -> None:
    data = os.urandom(2 * MiB + 1)
    pid = create_record(client)
    response = upload(client, pid, "a.bin", data)
    assert response.status_code == 200, response.json
    assert response.json["checksum"] == md5(data)
    assert response.json["checksums"] == sums(data, "sha256")
    listing = client.get(files_url(pid)).json
    assert listing["contents"][0]["checksums"] == sums(data, "sha256")
    assert listing["entries"][0]["checksums"] == sums(data, "sha256")
    versions = client.get(files_url(pid) + "?versions").json
    assert versions["contents"][0]["checksums"] == sums(data, "sha256")
    shown = client.get("/records/{0}".format(pid)).json["metadata"]["_files"]
    assert shown[0]["checksums"] == sums(data, "sha256")


def test_files_rest_route_keeps_every_algorithm(
    two: None, client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    bucket = stored_record(pid).bucket_id
    response = client.put(
        "/files/{0}/a.bin".format(bucket),
        data=b"through files-rest",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.data
    assert response.json["checksums"] == sums(b"through files-rest", "sha256")
    fileinstance = stored_record(pid).files["a.bin"].obj.file
    assert rows_of(fileinstance.id) == {
        "sha256": hashlib.sha256(b"through files-rest").hexdigest()
    }


def test_listing_reads_the_checksums_of_a_page_at_once(
    two: None,
    client: IsolatedClient,
    db: SQLAlchemy,
    count_queries: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    pid = create_record(client)
    for number in range(5):
        assert (
            upload(client, pid, "f{0}.bin".format(number), b"x%d" % number).status_code
            == 200
        )
    db.session.commit()
    with count_queries() as counted:
        listing = client.get(files_url(pid)).json
    assert len(listing["contents"]) == 5
    reads = [s for s in counted.statements if "records_files_checksums" in s]
    assert len(reads) == 1


def test_three_step_announced_sha256_is_verified(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    """MD5 alone is configured: an announced SHA-256 is computed all the same."""
    data = os.urandom(MiB + 7)
    pid = create_record(client)
    entries = [
        {"key": "good.bin", "size": len(data), "checksum": sha256(data)},
        {"key": "bad.bin", "size": len(data), "checksum": sha256(b"other")},
    ]
    assert init(client, pid, entries).status_code == 201
    for key in ("good.bin", "bad.bin"):
        assert put_content(client, pid, key, data).status_code == 200
    done = commit(client, pid, "good.bin")
    assert done.status_code == 200, done.json
    assert done.json["checksums"] == sums(data, "sha256")
    refused = commit(client, pid, "bad.bin")
    assert refused.status_code == 400, refused.json
    assert refused.json["status"] == 400
    listed = {e["key"]: e["status"] for e in client.get(files_url(pid)).json["entries"]}
    assert listed == {"good.bin": "completed", "bad.bin": "pending"}
    assert stored_record(pid).files.keys == ["good.bin"]


def test_announced_checksum_must_be_known(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    for checksum in ("crc32:12345678", "sha256:abc", "sha256:" + "z" * 64):
        response = init(client, pid, [{"key": "a", "checksum": checksum}])
        assert response.status_code == 400, response.json
        assert "sha256" in response.json["message"]


def test_multipart_through_the_app_with_sha256(
    two: None, client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    data = payload(1000, "two")
    pid = create_record(client)
    entry = multipart("m.bin", data, 3, 400, checksum=False)
    entry["checksum"] = sha256(data)
    [pending] = init(client, pid, [entry]).json["entries"]
    for part in pending["links"]["parts"]:
        n = part["part"]
        sent = client.put(part["url"], data=data[(n - 1) * 400 : n * 400])
        assert sent.status_code == 200, sent.json
    done = commit(client, pid, "m.bin")
    assert done.status_code == 200, done.json
    assert done.json["checksums"] == sums(data, "sha256")
    file_id = stored_record(pid).files["m.bin"].obj.file.id
    assert rows_of(file_id) == {"sha256": hashlib.sha256(data).hexdigest()}


def test_multipart_announced_sha256_mismatch_keeps_it_pending(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    data = payload(800, "bad")
    pid = create_record(client)
    entry = multipart("m.bin", data, 2, 400, checksum=False)
    entry["checksum"] = sha256(b"not these bytes")
    [pending] = init(client, pid, [entry]).json["entries"]
    for part in pending["links"]["parts"]:
        n = part["part"]
        assert (
            client.put(part["url"], data=data[(n - 1) * 400 : n * 400]).status_code
            == 200
        )
    refused = commit(client, pid, "m.bin")
    assert refused.status_code == 400, refused.json
    assert stored_record(pid).files.keys == []


def test_files_rest_multipart_with_sha256_and_part_md5(
    two: None, client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    data = payload(2 * 5 * MiB + 10, "legacy")
    part = 5 * MiB
    pid = create_record(client)
    base = "/records/{0}/files/big.bin".format(pid)
    started = client.post(
        "{0}?uploads&size={1}&partSize={2}".format(base, len(data), part)
    )
    assert started.status_code == 200, started.data
    upload_id = started.json["id"]
    pieces = [data[i : i + part] for i in range(0, len(data), part)]
    wrong = client.put(
        "{0}?uploadId={1}&partNumber=0".format(base, upload_id),
        data=pieces[0],
        headers={"Content-MD5": hashlib.md5(b"other").hexdigest()},
    )
    assert wrong.status_code == 400, wrong.data
    for number, piece in enumerate(pieces):
        sent = client.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=piece,
            headers={"Content-MD5": hashlib.md5(piece).hexdigest()},
        )
        assert sent.status_code == 200, sent.data
        assert json.loads(sent.get_data())["checksum"] == md5(piece)
    done = client.post("{0}?uploadId={1}".format(base, upload_id))
    assert done.status_code == 200, done.data
    fileinstance = stored_record(pid).files["big.bin"].obj.file
    assert checksums.stored_checksums(fileinstance) == sums(data, "sha256")


def test_fetch_keeps_every_algorithm(
    two: None, client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer
) -> None:
    data = os.urandom(300000)
    pid = create_record(client)
    url = fetching.add("f.bin", data)
    entry = {"key": "f.bin", "transfer": {"type": "F", "url": url}}
    entry["checksum"] = sha256(data)
    assert init(client, pid, [entry]).status_code == 201
    [listed] = client.get(files_url(pid)).json["entries"]
    assert listed["status"] == "completed", listed
    assert listed["checksums"] == sums(data, "sha256")


def test_fetch_with_a_wrong_sha256_fails(
    client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer
) -> None:
    pid = create_record(client)
    url = fetching.add("g.bin", b"fetched bytes")
    entry = {"key": "f.bin", "transfer": {"type": "F", "url": url}}
    entry["checksum"] = sha256(b"something else")
    assert init(client, pid, [entry]).status_code == 201
    [listed] = client.get(files_url(pid)).json["entries"]
    assert listed["status"] == "failed"
    assert "checksum" in listed["transfer"]["error"]


def test_remote_file_keeps_an_announced_sha256(
    two: None, client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer
) -> None:
    pid = create_record(client)
    digest = hashlib.sha256(b"remote").hexdigest()
    entry = {
        "key": "r.bin",
        "size": 6,
        "checksum": "sha256:" + digest,
        "transfer": {"type": "R", "url": "https://files.example.org/r.bin"},
    }
    response = init(client, pid, [entry])
    assert response.status_code == 201, response.json
    [listed] = client.get(files_url(pid)).json["entries"]
    assert listed["checksum"] is None
    assert listed["checksums"] == {"sha256": digest}


def test_bulk_attach_keeps_every_algorithm(
    two: None,
    cli: Callable[..., Result],
    record: BucketRecord,
    db: SQLAlchemy,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    contents = {"a.txt": b"alpha", "b.txt": os.urandom(2 * MiB)}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    result = cli("attach", record.id, folder)
    assert result.exit_code == 0, result.output
    again = Record.get_record(record.id)
    assert {e["key"]: e["checksums"] for e in again["_files"]} == {
        "data/" + name: sums(data, "sha256") for name, data in contents.items()
    }
    for name in contents:
        file_id = again.files["data/" + name].obj.file.id
        assert set(rows_of(file_id)) == {"sha256"}


#
# Production servers
#
@pytest.fixture(scope="module")
def two_server(
    app: Flask, base_config: dict[str, Any], instance_path: str
) -> Iterator[Server]:
    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "checksums"),
        "RECORDS_FILES_CHECKSUMS": "md5,sha256",
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server("gunicorn", env)
    yield running
    running.stop()


@pytest.mark.gunicorn
def test_gunicorn_upload_and_three_steps_show_both(
    two_server: Server, location: Location
) -> None:
    http = two_server.url
    pid = requests.post(http + "/records/", json={"title": "t"}).json()["id"]
    files = "{0}/records/{1}/files".format(http, pid)
    data = os.urandom(3 * MiB + 11)
    put = requests.put(
        files + "/a.bin",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 200, two_server.logs()[-2000:]
    assert put.json()["checksums"] == sums(data, "sha256")
    announced = requests.post(
        files, json=[{"key": "b.bin", "size": len(data), "checksum": sha256(data)}]
    )
    assert announced.status_code == 201, announced.text
    sent = requests.put(
        files + "/b.bin/content",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert sent.status_code == 200, sent.text
    done = requests.post(files + "/b.bin/commit")
    assert done.status_code == 200, done.text
    assert done.json()["checksums"] == sums(data, "sha256")
    listing = requests.get(files).json()
    assert [e["checksums"] for e in listing["entries"]] == [sums(data, "sha256")] * 2


#
# S3
#
@pytest.mark.s3
def test_s3_upload_keeps_every_algorithm(
    s3_app: Flask,
    s3_client: IsolatedClient,
    s3_db: SQLAlchemy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(s3_app.config, "RECORDS_FILES_CHECKSUMS", TWO)
    data = os.urandom(2 * MiB + 3)
    with s3_app.app_context():
        pid = create_record(s3_client)
        response = upload(s3_client, pid, "a.bin", data)
        assert response.status_code == 200, response.json
        assert response.json["checksums"] == sums(data, "sha256")
        record = stored_record(pid)
        assert checksums.stored_checksums(record.files["a.bin"].obj.file) == sums(
            data, "sha256"
        )


@pytest.mark.s3
def test_s3_direct_multipart_verified_with_every_algorithm(
    s3_app: Flask,
    s3_client: IsolatedClient,
    s3_db: SQLAlchemy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(s3_app.config, "RECORDS_FILES_CHECKSUMS", TWO)
    part = 5 * MiB
    data = payload(part + 1234, "s3 two")
    entry = multipart("big.bin", data, 2, part, checksum=False)
    entry["checksum"] = sha256(data)
    with s3_app.app_context():
        pid = create_record(s3_client)
        [listed] = init(s3_client, pid, [entry]).json["entries"]
        for link in listed["links"]["parts"]:
            n = link["part"]
            sent = http_session().put(
                link["url"], data=data[(n - 1) * part : n * part], timeout=60
            )
            assert sent.status_code == 200, sent.text
        assert commit(s3_client, pid, "big.bin").status_code == 202
        [done] = s3_client.get(files_url(pid)).json["entries"]
        assert done["status"] == "completed", done
        assert done["checksums"] == sums(data, "sha256")


@pytest.mark.s3
def test_s3_direct_multipart_wrong_sha256_fails(
    s3_app: Flask, s3_client: IsolatedClient, s3_db: SQLAlchemy
) -> None:
    part = 5 * MiB
    data = payload(part + 10, "s3 bad")
    entry = multipart("bad.bin", data, 2, part, checksum=False)
    entry["checksum"] = sha256(b"other bytes")
    with s3_app.app_context():
        pid = create_record(s3_client)
        [listed] = init(s3_client, pid, [entry]).json["entries"]
        for link in listed["links"]["parts"]:
            n = link["part"]
            http_session().put(
                link["url"], data=data[(n - 1) * part : n * part], timeout=60
            )
        assert commit(s3_client, pid, "bad.bin").status_code == 202
        [failed] = s3_client.get(files_url(pid)).json["entries"]
        assert failed["status"] == "failed"
        assert "checksum" in failed["transfer"]["error"]


#
# Multipart commit: the file's checksums computed beside the parts' writes
#
@pytest.fixture()
def reads_at_commit(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Note every whole-file read made to checksum a file (``measure_checksums``)."""
    from invenio_records_files_ext.storage import hashing

    calls: list[Any] = []
    measure = hashing.measure_checksums

    def noted(
        storage: Any, algorithms: Optional[tuple[str, ...]] = None
    ) -> hashing.Measured:
        calls.append(storage)
        return measure(storage, algorithms)

    monkeypatch.setattr(hashing, "measure_checksums", noted)
    return calls


def send_parts(
    client: IsolatedClient,
    pending: dict[str, Any],
    data: bytes,
    size: int,
    order: Optional[Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = None,
) -> None:
    links = pending["links"]["parts"]
    for link in order(links) if order else links:
        n = link["part"]
        sent = client.put(link["url"], data=data[(n - 1) * size : n * size])
        assert sent.status_code == 200, sent.json


@pytest.mark.parametrize("algorithms", [["md5"], TWO])
def test_parts_in_order_are_not_read_again_at_commit(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    reads_at_commit: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    algorithms: list[str],
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_CHECKSUMS", algorithms)
    data = payload(3 * 400 + 17, "in order")
    pid = create_record(client)
    [pending] = init(client, pid, [multipart("m.bin", data, 4, 400)]).json["entries"]
    send_parts(client, pending, data, 400)
    done = commit(client, pid, "m.bin")
    assert done.status_code == 200, done.json
    assert done.json["checksums"] == sums(data, *algorithms[1:])
    assert reads_at_commit == []


def test_parts_out_of_order_give_the_right_checksums(
    two: None,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    reads_at_commit: list[Any],
) -> None:
    data = payload(1000, "reversed")
    pid = create_record(client)
    [pending] = init(client, pid, [multipart("m.bin", data, 3, 400)]).json["entries"]
    send_parts(
        client, pending, data, 400, order=lambda links: [links[0], *links[:0:-1]]
    )
    done = commit(client, pid, "m.bin")
    assert done.status_code == 200, done.json
    assert done.json["checksums"] == sums(data, "sha256")
    # Part 1 was hashed as it came; the rest is read from where it stopped.
    assert reads_at_commit == []


def test_bytes_changed_behind_the_process_are_read_again(
    two: None,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    reads_at_commit: list[Any],
) -> None:
    """Another writer (another worker) changed the file: its hashes are dropped."""
    data = payload(800, "behind")
    pid = create_record(client)
    [pending] = init(client, pid, [multipart("m.bin", data, 2, 400)]).json["entries"]
    send_parts(client, pending, data, 400)
    fileinstance = db.session.get(
        FileInstance, stored_record(pid).files.transfers.get("m.bin").file_id
    )
    assert fileinstance is not None
    path = fileinstance.uri
    time.sleep(0.05)  # file times move in clock ticks
    changed = b"Z" * 400 + data[400:]
    with open(path, "r+b") as fp:
        fp.write(changed[:400])
    db.session.rollback()
    announced = commit(client, pid, "m.bin")
    assert announced.status_code == 400  # the announced MD5 is the old bytes'
    assert len(reads_at_commit) == 1


def test_a_failed_part_gives_the_right_checksums(
    two: None,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    reads_at_commit: list[Any],
) -> None:
    data = payload(800, "failed part")
    pid = create_record(client)
    [pending] = init(client, pid, [multipart("m.bin", data, 2, 400)]).json["entries"]
    first, second = pending["links"]["parts"]
    assert client.put(first["url"], data=data[:400]).status_code == 200
    short = client.put(
        second["url"],
        input_stream=io.BytesIO(data[400:700]),
        headers={"Content-Length": "400", "Content-Type": "application/octet-stream"},
    )
    assert short.status_code == 400
    assert client.put(second["url"], data=data[400:]).status_code == 200
    done = commit(client, pid, "m.bin")
    assert done.status_code == 200, done.json
    assert done.json["checksums"] == sums(data, "sha256")


def test_a_refused_part_sent_again_gives_the_right_checksums(
    two: None, client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    """A part refused after its write (wrong Content-MD5) left its bytes."""
    part = 5 * MiB
    data = payload(part + 10, "refused")
    pid = create_record(client)
    base = "/records/{0}/files/big.bin".format(pid)
    started = client.post(
        "{0}?uploads&size={1}&partSize={2}".format(base, len(data), part)
    )
    upload_id = started.json["id"]
    url = "{0}?uploadId={1}&partNumber=".format(base, upload_id)
    wrong = client.put(url + "0", data=b"w" * part, headers={"Content-MD5": "0" * 32})
    assert wrong.status_code == 400
    assert client.put(url + "1", data=data[part:]).status_code == 200
    assert client.put(url + "0", data=data[:part]).status_code == 200
    assert client.post("{0}?uploadId={1}".format(base, upload_id)).status_code == 200
    fileinstance = stored_record(pid).files["big.bin"].obj.file
    assert checksums.stored_checksums(fileinstance) == sums(data, "sha256")


def test_files_rest_parts_in_order_are_not_read_again(
    two: None,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    reads_at_commit: list[Any],
) -> None:
    part = 5 * MiB
    data = payload(part + 3, "legacy in order")
    pid = create_record(client)
    base = "/records/{0}/files/big.bin".format(pid)
    started = client.post(
        "{0}?uploads&size={1}&partSize={2}".format(base, len(data), part)
    )
    upload_id = started.json["id"]
    for number, start in enumerate(range(0, len(data), part)):
        sent = client.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=data[start : start + part],
        )
        assert sent.status_code == 200, sent.data
    assert client.post("{0}?uploadId={1}".format(base, upload_id)).status_code == 200
    fileinstance = stored_record(pid).files["big.bin"].obj.file
    assert checksums.stored_checksums(fileinstance) == sums(data, "sha256")
    assert reads_at_commit == []
