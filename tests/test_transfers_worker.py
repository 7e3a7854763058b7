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

from invenio_records_files_ext import jobs
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


WORKER_CONFIG = dict(
    CELERY_TASK_ALWAYS_EAGER=False,
    RECORDS_FILES_FETCH_ALLOWED_HOSTS=["127.0.0.1"],
    RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES=True,
)


def start_worker(redis_url, database_uri, folder, name, **config):
    """Start a Celery worker process on the test database, fed by Redis."""
    config = dict(
        WORKER_CONFIG,
        SQLALCHEMY_DATABASE_URI=database_uri,
        CELERY_BROKER_URL=redis_url,
        **config,
    )
    env = dict(
        os.environ,
        RFX_WORKER_CONFIG=json.dumps(config),
        RFX_WORKER_INSTANCE=str(folder / name),
    )
    log = open(folder / "{0}.log".format(name), "wb")
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
            "rfx-{0}-{1}@localhost".format(name, os.getpid()),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log = log
    process.log_path = folder / "{0}.log".format(name)
    return process


def stop_worker(process):
    """Stop a worker started by :func:`start_worker`; print the end of its log."""
    stop_process_group(process)
    process.log.close()
    print(process.log_path.read_text(errors="replace")[-4000:])


@pytest.fixture()
def broker(app, redis_url):
    """Send the test application's tasks to Redis (not eager)."""
    celery = app.extensions["flask-celeryext"].celery
    saved = dict(
        task_always_eager=celery.conf.task_always_eager,
        broker_url=celery.conf.broker_url,
    )
    celery.conf.update(task_always_eager=False, broker_url=redis_url)
    _forget_connections(celery)
    yield celery
    celery.conf.update(**saved)
    _forget_connections(celery)


@pytest.fixture()
def worker(app, client, broker, redis_url, database_uri, tmp_path):
    """A Celery worker process on the test database, fed by Redis."""
    process = start_worker(redis_url, database_uri, tmp_path, "worker")
    yield process
    stop_worker(process)


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


def _transfer_state(pid, client):
    [listed] = client.get(files_url(pid)).json["entries"]
    return listed["status"], listed.get("transfer", {}).get("state"), listed


def test_a_worker_killed_mid_fetch(
    app, client, db, broker, redis_url, database_uri, source, tmp_path, monkeypatch
):
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
    first = start_worker(redis_url, database_uri, tmp_path, "a", **lease)
    second = None
    try:
        pid = create_record(client)
        entry = {
            "key": "k.txt",
            "transfer": {"type": "F", "url": source.url("/slow/k.txt")},
        }
        assert init(client, pid, [entry]).status_code == 201
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert first.poll() is None, "worker A exited (its log is printed)"
            if source.requests and _transfer_state(pid, client)[1] == "fetching":
                break
            time.sleep(0.2)
        # Past several renewals: the lease was renewed, not merely taken.
        time.sleep(3)
        status, state, listed = _transfer_state(pid, client)
        assert (status, state) == ("pending", "fetching"), listed
        # Worker A renews its lease: a sweep now leaves its fetch alone.
        assert jobs.sweep() == []
        os.killpg(first.pid, 9)
        first.wait(10)
        time.sleep(1.5)  # the lease (1 s) expires
        second = start_worker(redis_url, database_uri, tmp_path, "b", **lease)
        from invenio_records_files_ext.tasks.transfers import sweep_transfers

        sweep_transfers.apply_async()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert second.poll() is None, "worker B exited (its log is printed)"
            status, state, listed = _transfer_state(pid, client)
            if status != "pending":
                break
            time.sleep(0.3)
        assert status == "completed", listed
        assert client.get(files_url(pid, "k.txt", "content")).data == data
        assert source.requests.count("/slow/k.txt") == 2
    finally:
        stop_worker(first)
        if second is not None:
            stop_worker(second)
