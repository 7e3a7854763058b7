"""A fetch done by a real Celery worker, through a real Redis broker.

``run-tests.sh`` starts Redis on loopback (``scripts/redis.sh``) and names
it in ``RFX_REDIS_URL``; without it the test starts ``redis-server`` itself
when it is installed, and is skipped (saying why) when it is not.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.helpers import create_record, files_url, init, stored_record
from tests.httpserver import SourceServer
from tests.s3server import free_port
from tests.servers import stop_process_group

DATA = b"fetched by a worker\n" * 1000


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A Redis broker on loopback."""
    url = os.environ.get("RFX_REDIS_URL")
    if url:
        yield url
        return
    if shutil.which("redis-server") is None:
        pytest.skip(
            "No Redis broker: redis-server is not installed (run-tests.sh "
            "installs Debian's package) and RFX_REDIS_URL is not set."
        )
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.5)
    yield "redis://127.0.0.1:{0}/0".format(port)
    stop_process_group(process)


@pytest.fixture()
def source():
    """The HTTP source on loopback."""
    server = SourceServer().start()
    yield server
    server.stop()


def _forget_connections(celery):
    """Drop the connections pooled for the broker used before.

    Celery keeps its producers' pool once made, even when the broker
    setting changes (and ``close()`` leaves it when no connection pool is
    open): without this the task would go to the earlier broker.
    """
    celery.close()
    celery.amqp._producer_pool = None


@pytest.fixture()
def worker(app, client, redis_url, database_uri, tmp_path):
    """A Celery worker process on the test database, fed by Redis."""
    config = dict(
        SQLALCHEMY_DATABASE_URI=database_uri,
        CELERY_BROKER_URL=redis_url,
        CELERY_TASK_ALWAYS_EAGER=False,
        RECORDS_FILES_FETCH_ALLOWED_HOSTS=["127.0.0.1"],
        RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES=True,
    )
    env = dict(
        os.environ,
        RFX_WORKER_CONFIG=json.dumps(config),
        RFX_WORKER_INSTANCE=str(tmp_path / "worker"),
    )
    log = open(tmp_path / "worker.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.worker_app:celery",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            "rfx-{0}@localhost".format(os.getpid()),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    celery = app.extensions["flask-celeryext"].celery
    saved = dict(
        task_always_eager=celery.conf.task_always_eager,
        broker_url=celery.conf.broker_url,
    )
    celery.conf.update(task_always_eager=False, broker_url=redis_url)
    _forget_connections(celery)
    try:
        yield process
    finally:
        celery.conf.update(**saved)
        _forget_connections(celery)
        stop_process_group(process)
        log.close()
        worker_log = (tmp_path / "worker.log").read_text(errors="replace")
        print(worker_log[-4000:])


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
