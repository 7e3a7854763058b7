"""SQLite writers wait their turn: the demo's defaults under gunicorn.

The demo runs on SQLite (write-ahead log) with two gunicorn workers. A
transaction that has read and then writes cannot be upgraded to a writer
while another process writes (SQLite answers "database is locked" at once,
without waiting for the busy timeout), so concurrent writes to different
records failed with 500. Write requests now begin their transactions with
``BEGIN IMMEDIATE`` (:func:`invenio_records_files_ext.db.sqlite.init_sqlite_app`):
writers queue for the lock, and nothing fails.

This test uses a database of its own (a SQLite file), whatever database the
rest of the suite runs on.
"""

import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.servers import Server

pytestmark = pytest.mark.gunicorn

CLIENTS = 8
WRITES_PER_CLIENT = 15


@pytest.fixture()
def sqlite_demo(tmp_path: Path) -> Iterator[Server]:
    """The demo under gunicorn (2 workers) on a fresh SQLite database."""
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {
        "SQLALCHEMY_DATABASE_URI": "sqlite:///{0}".format(instance / "demo.db"),
        "FILES_STORAGE_PATH": str(instance / "files"),
        "DEMO_INSTANCE_PATH": str(instance),
    }
    server = Server("gunicorn", env, workers=2)
    try:
        yield server
    finally:
        server.stop()


def _writer(
    base: str,
    pid: str,
    index: int,
    outcomes: list[tuple[str, int, int, str]],
    lock: threading.Lock,
) -> None:
    session = requests.Session()
    for number in range(WRITES_PER_CLIENT):
        if number % 3 == 0:
            response = session.put(
                "{0}/records/{1}".format(base, pid),
                json={"title": "client {0} write {1}".format(index, number)},
            )
            kind = "record"
        else:
            body = "client {0} file {1}\n".format(index, number).encode() * 200
            response = session.put(
                "{0}/records/{1}/files/f{2}.txt".format(base, pid, number),
                data=body,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-MD5": hashlib.md5(body).hexdigest(),
                },
            )
            kind = "file"
        with lock:
            outcomes.append((kind, number, response.status_code, response.text[:300]))


def test_concurrent_writers_to_different_records_never_fail(
    sqlite_demo: Server,
) -> None:
    base = sqlite_demo.url
    pids: list[str] = []
    for index in range(CLIENTS):
        created = requests.post(base + "/records/", json={"title": str(index)})
        assert created.status_code == 201, created.text
        pids.append(created.json()["id"])

    outcomes: list[tuple[str, int, int, str]] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_writer, args=(base, pid, index, outcomes, lock))
        for index, pid in enumerate(pids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    assert len(outcomes) == CLIENTS * WRITES_PER_CLIENT
    statuses = Counter(status for _, _, status, _ in outcomes)
    failures = [outcome for outcome in outcomes if outcome[2] != 200]
    assert statuses == {200: CLIENTS * WRITES_PER_CLIENT}, (
        failures[:5],
        sqlite_demo.logs()[-3000:],
    )
    assert "database is locked" not in sqlite_demo.logs()

    # Every acknowledged write is there.
    for index, pid in enumerate(pids):
        record = requests.get("{0}/records/{1}".format(base, pid)).json()
        last_title = max(
            number for number in range(WRITES_PER_CLIENT) if number % 3 == 0
        )
        assert record["metadata"]["title"] == "client {0} write {1}".format(
            index, last_title
        )
        keys = sorted(entry["key"] for entry in record["metadata"]["_files"])
        assert keys == sorted(
            "f{0}.txt".format(number)
            for number in range(WRITES_PER_CLIENT)
            if number % 3
        )
