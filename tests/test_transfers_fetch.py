"""Fetch and remote transfers: Celery (eager here) and a local HTTP source."""

import hashlib
import json
from typing import Optional

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from invenio_records_files_ext.errors import TransferFailedError
from invenio_records_files_ext.models import FileTransfer
from invenio_records_files_ext.transfers.fetching import FetchLimits, open_url
from tests.helpers import (
    IsolatedClient,
    create_record,
    fetch_entry,
    files_url,
    init,
    storage_files,
    stored_record,
)
from tests.httpserver import SourceServer

DATA = bytes(range(256)) * 40
MD5 = "md5:" + hashlib.md5(DATA).hexdigest()


def test_fetch_completes_the_file(
    client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer
) -> None:
    pid = create_record(client)
    url = fetching.add("ok.bin", DATA)
    response = init(client, pid, [fetch_entry(url, size=len(DATA), checksum=MD5)])
    assert response.status_code == 201, response.json
    [entry] = response.json["entries"]
    assert entry["transfer"]["type"] == "F"
    assert "url" not in entry["transfer"]  # never shown
    assert url not in json.dumps(response.json)
    # Eager: the fetch ran after the commit of the request.
    listing = client.get(files_url(pid)).json
    assert [(e["key"], e["status"]) for e in listing["entries"]] == [
        ("f.bin", "completed")
    ]
    assert client.get(files_url(pid, "f.bin", "content")).data == DATA
    record = stored_record(pid)
    assert record["_files"][0]["checksum"] == MD5
    assert record.files.bucket.size == len(DATA)
    assert db.session.query(FileTransfer).count() == 0


def test_fetch_follows_allowed_redirects(
    client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer
) -> None:
    pid = create_record(client)
    target = fetching.add("moved.bin", DATA)
    url = fetching.url("/redirect?to=" + target)
    init(client, pid, [fetch_entry(url)])
    assert client.get(files_url(pid, "f.bin", "content")).data == DATA


@pytest.mark.parametrize(
    "path, size, message",
    [
        ("/files/missing.bin", None, "HTTP 404"),
        ("/redirect?to=http://169.254.169.254/latest", None, "not allowed"),
        ("/liar/short.bin", None, "failed"),
        ("/files/ok.bin", 10, "10 bytes"),
    ],
)
def test_failed_fetch_leaves_no_bytes(
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    location: Location,
    path: str,
    size: Optional[int],
    message: str,
) -> None:
    fetching.add("ok.bin", DATA)
    fetching.add("short.bin", DATA)
    pid = create_record(client)
    entry = fetch_entry(fetching.url(path), **({"size": size} if size else {}))
    assert init(client, pid, [entry]).status_code == 201
    [listed] = client.get(files_url(pid)).json["entries"]
    assert listed["status"] == "failed", listed
    assert message in listed["transfer"]["error"], listed
    assert storage_files(location.uri) == set()
    record = stored_record(pid)
    assert record.files.bucket.size == 0
    assert len(record.files) == 0
    assert client.get(files_url(pid, "f.bin", "content")).status_code == 404
    # A failed file is deleted like any pending one.
    assert client.delete(files_url(pid, "f.bin")).status_code == 204
    assert client.get(files_url(pid)).json["entries"] == []


def test_fetch_limits(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetching.add("ok.bin", DATA)
    pid = create_record(client)
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_MAX_SIZE", 100)
    init(client, pid, [fetch_entry(fetching.url("/files/ok.bin"))])
    [listed] = client.get(files_url(pid)).json["entries"]
    assert "RECORDS_FILES_FETCH_MAX_SIZE" in listed["transfer"]["error"]
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_MAX_SIZE", None)
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_TIMEOUT", 0.5)
    fetching.add("slow.bin", DATA[:400])
    init(client, pid, [fetch_entry(fetching.url("/slow/slow.bin"), key="s.bin")])
    listed = {e["key"]: e for e in client.get(files_url(pid)).json["entries"]}
    assert "RECORDS_FILES_FETCH_TIMEOUT" in listed["s.bin"]["transfer"]["error"]


def test_loopback_refused_unless_allowed(source: SourceServer) -> None:
    url = source.add("x.bin", b"x")
    limits = FetchLimits(allowed_hosts=("127.0.0.1",))
    with pytest.raises(TransferFailedError) as error:
        with open_url(url, limits):
            pass
    assert "loopback" in str(error.value)
    with pytest.raises(TransferFailedError) as error:
        with open_url(url, FetchLimits(allowed_hosts=("example.org",))):
            pass
    assert "not allowed" in str(error.value)
    allowed = FetchLimits(allowed_hosts=("127.0.0.1",), allow_private=True)
    with open_url(url, allowed) as body:
        assert body.read() == b"x"


def test_remote_file_redirects(
    client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer, location: Location
) -> None:
    pid = create_record(client)
    url = "https://data.example.org/big.nc"
    response = init(
        client,
        pid,
        [{"key": "big.nc", "size": 1000, "transfer": {"type": "R", "url": url}}],
    )
    assert response.status_code == 201, response.json
    [entry] = response.json["entries"]
    assert entry["status"] == "completed"
    assert entry["transfer"] == {"type": "R"}
    for route in (files_url(pid, "big.nc"), files_url(pid, "big.nc", "content")):
        download = client.get(route)
        assert download.status_code == 302
        assert download.headers["Location"] == url
    record = stored_record(pid)
    assert [f["key"] for f in record["_files"]] == ["big.nc"]
    assert storage_files(location.uri) == set()
    refused = init(
        client,
        pid,
        [{"key": "x", "transfer": {"type": "R", "url": "https://evil.test/"}}],
    )
    assert refused.status_code == 400
    assert "RECORDS_FILES_REMOTE_ALLOWED_HOSTS" in refused.json["message"]
    assert client.delete(files_url(pid, "big.nc")).status_code == 204
