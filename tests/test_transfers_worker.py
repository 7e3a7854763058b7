"""A fetch done by a real Celery worker, through a real Redis broker.

The broker is conftest's ``redis_url``; the worker process is
``tests/workers.py``'s.
"""

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from invenio_records_files_ext.transfers import jobs
from tests.helpers import IsolatedClient, create_record, files_url, init, stored_record
from tests.httpserver import SourceServer
from tests.workers import Worker, broker_for, worker_config

DATA = b"fetched by a worker\n" * 1000


@pytest.fixture()
def source() -> Iterator[SourceServer]:
    """The HTTP source on loopback."""
    server = SourceServer().start()
    yield server
    server.stop()


def fetch_config(database_uri: str, redis_url: str, **extra: Any) -> dict[str, Any]:
    """A worker's configuration: fetches from the loopback source allowed."""
    return worker_config(
        database_uri,
        redis_url,
        RECORDS_FILES_FETCH_ALLOWED_HOSTS=["127.0.0.1"],
        RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES=True,
        **extra,
    )


@pytest.fixture()
def worker(
    app: Flask,
    client: IsolatedClient,
    redis_url: str,
    database_uri: str,
    tmp_path: Path,
) -> "Iterator[subprocess.Popen[bytes]]":
    """A Celery worker process on the test database, fed by Redis."""
    started = Worker(fetch_config(database_uri, redis_url), str(tmp_path), "fetch")
    try:
        with broker_for(app, redis_url):
            yield started.process
    finally:
        started.stop()


def test_fetch_by_a_real_worker(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    worker: "subprocess.Popen[bytes]",
    source: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_ALLOWED_HOSTS", ["127.0.0.1"])
    url = source.add("w.txt", DATA)
    pid = create_record(client)
    checksum = "md5:" + hashlib.md5(DATA).hexdigest()
    entry = {
        "key": "w.txt",
        "checksum": checksum,
        "transfer": {"type": "F", "url": url},
    }
    response = init(client, pid, [entry])
    assert response.status_code == 201, response.json
    # Not eager: the request answered before any byte was fetched.
    assert response.json["entries"][0]["status"] == "pending"
    deadline = time.monotonic() + 90
    status = None
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker exited (its log is printed)"
        [listed] = client.get(files_url(pid)).json["entries"]
        status = listed["status"]
        if status != "pending":
            break
        time.sleep(0.3)
    assert status == "completed", listed
    assert worker.poll() is None
    assert client.get(files_url(pid, "w.txt", "content")).data == DATA
    assert stored_record(pid)["_files"][0]["checksum"] == checksum
    assert source.requests == ["/files/w.txt"]


def _transfer_state(
    pid: str, client: IsolatedClient
) -> "tuple[str, str | None, dict[str, Any]]":
    [listed] = client.get(files_url(pid)).json["entries"]
    return listed["status"], listed.get("transfer", {}).get("state"), listed


def test_a_worker_killed_mid_fetch(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    redis_url: str,
    database_uri: str,
    source: SourceServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker killed mid-fetch: its fetch is taken up by another worker.

    Worker A renews its lease (1 s here) while the slow source sends; it is
    killed with SIGKILL; ``sweep_transfers``, sent to Redis as Celery beat
    would, runs on worker B, which queues the fetch again and fetches it.
    """
    lease = dict(RECORDS_FILES_FETCH_LEASE=1)
    for name, value in lease.items():
        monkeypatch.setitem(app.config, name, value)
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_ALLOWED_HOSTS", ["127.0.0.1"])
    data = b"slowly fetched\n" * 64  # 64 pieces of 16 bytes, 0.2 s apart
    source.add("k.txt", data)
    first = Worker(fetch_config(database_uri, redis_url, **lease), str(tmp_path), "a")
    second = None
    try:
        with broker_for(app, redis_url):
            pid = create_record(client)
            entry = {
                "key": "k.txt",
                "transfer": {"type": "F", "url": source.url("/slow/k.txt")},
            }
            assert init(client, pid, [entry]).status_code == 201
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                assert first.alive(), "worker A exited (its log is printed)"
                if source.requests and _transfer_state(pid, client)[1] == "fetching":
                    break
                time.sleep(0.2)
            # Past several renewals: the lease was renewed, not merely taken.
            time.sleep(3)
            status, state, listed = _transfer_state(pid, client)
            assert (status, state) == ("pending", "fetching"), listed
            # Worker A renews its lease: a sweep now leaves its fetch alone.
            assert jobs.sweep() == []
            os.killpg(first.process.pid, 9)
            first.process.wait(10)
            time.sleep(1.5)  # the lease (1 s) expires
            second = Worker(
                fetch_config(database_uri, redis_url, **lease), str(tmp_path), "b"
            )
            from invenio_records_files_ext.tasks.transfers import sweep_transfers

            sweep_transfers.apply_async()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                assert second.alive(), "worker B exited (its log is printed)"
                status, state, listed = _transfer_state(pid, client)
                if status != "pending":
                    break
                time.sleep(0.3)
            assert status == "completed", listed
            assert client.get(files_url(pid, "k.txt", "content")).data == data
            assert source.requests.count("/slow/k.txt") == 2
    finally:
        first.stop()
        if second is not None:
            second.stop()
