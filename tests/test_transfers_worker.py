"""A fetch done by a real Celery worker, through a real Redis broker.

The broker is conftest's ``redis_url``; the worker process is
``tests/workers.py``'s.
"""

import hashlib
import time

import pytest

from tests.helpers import create_record, files_url, init, stored_record
from tests.httpserver import SourceServer
from tests.workers import Worker, broker_for, worker_config

DATA = b"fetched by a worker\n" * 1000


@pytest.fixture()
def source():
    """The HTTP source on loopback."""
    server = SourceServer().start()
    yield server
    server.stop()


@pytest.fixture()
def worker(app, client, redis_url, database_uri, tmp_path):
    """A Celery worker process on the test database, fed by Redis."""
    config = worker_config(
        database_uri,
        redis_url,
        RECORDS_FILES_FETCH_ALLOWED_HOSTS=["127.0.0.1"],
        RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES=True,
    )
    started = Worker(config, str(tmp_path), "fetch")
    try:
        with broker_for(app, redis_url):
            yield started.process
    finally:
        started.stop()


def test_fetch_by_a_real_worker(app, client, db, worker, source, monkeypatch):
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
