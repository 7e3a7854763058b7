"""Durable before acknowledged: what an upload path answered for is on disk.

The fault test uploads through gunicorn on every route that takes bytes
(``PUT``, the three-step ``/content``, multipart parts and their commit),
checks each file the moment it is acknowledged with the kernel's own count
of its pages that are not on disk yet (``cachestat()``: none may be dirty
or under writeback), kills the worker in the middle of one more upload,
empties the page cache (``echo 3 > /proc/sys/vm/drop_caches``, root) and
reads every acknowledged file back from the disk against the checksum the
database holds. The Python paths (``record.files[key] = stream``, bulk
``files.update()``, a fetch) are checked in this process the same way,
once their transaction has committed. ``tests/test_storage.py`` has the
negative control: with ``RECORDS_FILES_FSYNC`` off the same count shows
dirty pages.
"""

import hashlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
import requests
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db as db_
from invenio_files_rest.models import FileInstance, Location

from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    fetch_entry,
    files_url,
    init,
    payload,
    stored_record,
)
from tests.httpserver import SourceServer
from tests.pagecache import cachestat, drop_caches
from tests.servers import Server

pytestmark = pytest.mark.gunicorn

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(
    app: Flask, base_config: dict[str, Any], instance_path: str
) -> Iterator[Server]:
    """The demo under gunicorn, one sync worker, on the suite's database."""
    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "durability"),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server("gunicorn", env, workers=1, timeout=120)
    yield running
    running.stop()


def new_record(url: str) -> str:
    response = requests.post(url + "/records/", json={"title": "durable"})
    assert response.status_code == 201, response.text
    pid: str = response.json()["id"]
    return pid


def stored_path(pid: str, key: str) -> tuple[str, str]:
    """Where the bytes of record ``pid``'s file ``key`` are, and their checksum."""
    db_.session.rollback()  # see what the server committed
    file = stored_record(pid).files[key].file
    return file.uri, file.checksum


def assert_on_disk(path: str) -> None:
    stat = cachestat(path)
    assert stat.on_disk, "{0}: {1} dirty, {2} under writeback pages".format(
        path, stat.dirty, stat.writeback
    )


def put(url: str, path: str, data: bytes, **headers: str) -> Any:
    response = requests.put(
        url + path,
        data=data,
        headers={"Content-Type": "application/octet-stream", **headers},
    )
    assert response.status_code == 200, response.text
    return response.json()


def upload_put(url: str, data: bytes) -> tuple[str, str]:
    pid = new_record(url)
    put(url, files_url(pid, "put.bin"), data)
    return pid, "put.bin"


def upload_content(url: str, data: bytes) -> tuple[str, str]:
    pid = new_record(url)
    entry: dict[str, Any] = {
        "key": "content.bin",
        "size": len(data),
        "checksum": md5(data),
    }
    response = requests.post(url + files_url(pid), json=[entry])
    assert response.status_code == 201, response.text
    put(url, files_url(pid, "content.bin", "content"), data)
    done = requests.post(url + files_url(pid, "content.bin", "commit"))
    assert done.status_code == 200, done.text
    return pid, "content.bin"


def upload_parts(url: str, data: bytes, part_size: int = 2 * MiB) -> tuple[str, str]:
    pid = new_record(url)
    parts = -(-len(data) // part_size)
    transfer = {"type": "M", "parts": parts, "part_size": part_size}
    entry: dict[str, Any] = {
        "key": "parts.bin",
        "size": len(data),
        "transfer": transfer,
    }
    response = requests.post(url + files_url(pid), json=[entry])
    assert response.status_code == 201, response.text
    links = response.json()["entries"][0]["links"]["parts"]
    for link in links:
        start = (link["part"] - 1) * part_size
        part = files_url(pid, "parts.bin", "content", str(link["part"]))
        put(url, part, data[start : start + part_size])
        # An acknowledged part is on disk, before the upload is committed.
        db_.session.rollback()
        found = stored_record(pid).files.transfers.get("parts.bin")
        assert_on_disk(db_.session.get(FileInstance, found.file_id).uri)
    done = requests.post(url + files_url(pid, "parts.bin", "commit"))
    assert done.status_code == 200, done.text
    return pid, "parts.bin"


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def kill_during_upload(server: Server, url: str, size: int) -> str:
    """Start a PUT of ``size`` bytes, send half, kill the worker; return the pid."""
    pid = new_record(url)
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            "PUT {0} HTTP/1.1\r\nHost: {1}\r\nContent-Type: application/octet-stream"
            "\r\nContent-Length: {2}\r\n\r\n".format(
                files_url(pid, "killed.bin"), host, size
            ).encode()
        )
        sock.sendall(os.urandom(size // 2))
        time.sleep(0.5)  # the worker is writing
        [worker] = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while server.worker_pids() in ([], [worker]) and time.monotonic() < deadline:
        time.sleep(0.2)  # gunicorn starts a new worker
    return pid


def test_acknowledged_uploads_survive_a_killed_worker(
    server: Server, db: SQLAlchemy, location: Location
) -> None:
    url = server.url
    sent: dict[tuple[str, str], bytes] = {}
    routes = (
        (upload_put, 20 * MiB + 5),
        (upload_content, 3 * MiB),
        (upload_parts, 5 * MiB + 1),
    )
    for route, size in routes:
        data = payload(size, seed=route.__name__)
        pid, key = route(url, data)
        path, checksum = stored_path(pid, key)
        assert_on_disk(path)  # acknowledged: nothing left in memory only
        assert checksum == md5(data)
        sent[(pid, key)] = data

    killed = kill_during_upload(server, url, 32 * MiB)
    drop_caches()
    for (pid, key), data in sent.items():
        path, checksum = stored_path(pid, key)
        assert cachestat(path).cached == 0  # what follows is read from disk
        with open(path, "rb") as fp:
            stored = fp.read()
        assert md5(stored) == checksum == md5(data), (pid, key)
    listing = requests.get(url + files_url(killed)).json()
    assert listing["contents"] == []  # the upload that was cut is not recorded


def test_python_paths_are_on_disk_when_committed(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    one = payload(3 * MiB, seed="setitem")
    record.files["one.bin"] = BytesIO(one)
    many = {"bulk-{0}.bin".format(i): payload(MiB + i, seed=str(i)) for i in range(3)}
    record.files.update({key: BytesIO(data) for key, data in many.items()})
    db.session.commit()
    for key, data in {"one.bin": one, **many}.items():
        file = record.files[key].file
        assert_on_disk(file.uri)
        assert file.checksum == md5(data)


def test_fetch_is_on_disk_when_completed(
    client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer
) -> None:
    data = payload(3 * MiB, seed="fetch")
    pid = create_record(client)
    url = fetching.add("far.bin", data)
    response = init(client, pid, [fetch_entry(url, size=len(data), checksum=md5(data))])
    assert response.status_code == 201, response.json
    # Eager Celery: the fetch ran after the request's commit.
    file = stored_record(pid).files["f.bin"].file
    assert file.checksum == md5(data)
    assert_on_disk(file.uri)
