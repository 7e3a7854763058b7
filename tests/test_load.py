"""Load and fault tests: the demo under gunicorn, on PostgreSQL.

The demo application runs under gunicorn (several sync workers) against the
suite's PostgreSQL database and a fresh storage folder, and real HTTP
clients (threads, each with its own ``requests.Session``) use it:

* many clients upload small files to one record at once, while others
  upload to their own records and readers list and download; everything
  acknowledged must be listed, in ``_files`` and downloadable, exactly
  once, and no request may be answered with a 5xx;
* a gunicorn worker is killed (SIGKILL) while large uploads stream;
* PostgreSQL is restarted while uploads run.

After each of them nothing half-written may be visible, every object
version must point at whole bytes, ``verify --all`` must be clean and
``gc`` must report exactly the bytes nothing references.

``RFX_LOAD_SCALE`` sets the size of the concurrency test: ``reduced`` (the
default: 50 clients x 5 files to the shared record) or ``full`` (50 x 20);
in the one-record test each client lists the files every fifth upload.
The restart test needs ``RFX_POSTGRES_DIR``, the folder of the server
started by ``scripts/postgres.sh`` (``run-tests.sh`` exports it). Timings
are printed whatever pytest's capture settings.
"""

import os
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Callable, Optional, Union, cast

import pytest
import requests
from flask import Flask
from invenio_files_rest.models import Location

from tests.loadphases import (
    LIST_EVERY,
    SHARED_WRITERS,
    WATCHER_PAGE_SIZE,
    Uploads,
    compare_layouts,
)
from tests.loadtools import (
    MIB,
    Acknowledged,
    Client,
    LockWaitSampler,
    PausingBody,
    Problems,
    Recorder,
    bucket_of,
    check_consistency,
    files_at_least,
    is_postgresql,
    is_success,
    join_all,
    md5,
    quota_problems,
    start_threads,
    wait_until,
)
from tests.servers import ROOT, Server

Report = Callable[[str, Iterable[str]], None]
"""The ``report`` fixture: prints a title and its lines."""

DATABASE_URI = os.environ.get("SQLALCHEMY_DATABASE_URI", "")

pytestmark = [
    pytest.mark.load,
    pytest.mark.skipif(
        not is_postgresql(DATABASE_URI),
        reason="load tests run on PostgreSQL only: set SQLALCHEMY_DATABASE_URI "
        "to a postgresql URI (run-tests.sh does)",
    ),
]

WORKERS = 4
"""Gunicorn sync workers: requests served at once."""

WORKER_TIMEOUT = 120
"""Gunicorn kills a worker busy longer than this on one request."""

SCALES = {"reduced": 5, "full": 20}
"""Files each writer of the concurrency test uploads, by RFX_LOAD_SCALE."""

OWN_RECORD_WRITERS = 10
READERS = 4

PHASE_LIMIT = {"reduced": 300, "full": 1200}
"""Seconds the concurrency test's clients may run before giving up."""

SHARED_RATE_FLOOR = 0.8
"""Uploads per second to one record, as a share of the same load spread
over one record per client (asserted in the full mode)."""


def files_per_writer() -> tuple[str, int]:
    """Return how many files each writer uploads (``RFX_LOAD_SCALE``)."""
    scale = os.environ.get("RFX_LOAD_SCALE", "reduced")
    if scale not in SCALES:
        pytest.fail(
            "RFX_LOAD_SCALE must be one of {0}, not {1!r}".format(sorted(SCALES), scale)
        )
    return scale, SCALES[scale]


@pytest.fixture()
def postgres_dir() -> str:
    """The folder of the suite's PostgreSQL server (to restart it)."""
    path = os.environ.get("RFX_POSTGRES_DIR")
    if not path:
        pytest.skip(
            "RFX_POSTGRES_DIR is not set: the restart test needs the folder of "
            "the server started by scripts/postgres.sh (run-tests.sh exports it)"
        )
    return path


@pytest.fixture()
def served(app: Flask, location: Location, tmp_path: Path) -> Iterator[Server]:
    """The demo under gunicorn, on the suite's database and ``location``."""
    env = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": location.uri,
        "DEMO_INSTANCE_PATH": str(tmp_path / "demo"),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    server = Server("gunicorn", env, workers=WORKERS, timeout=WORKER_TIMEOUT)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def report(capsys: pytest.CaptureFixture[str]) -> Report:
    """Print report lines, even when pytest captures the output."""

    def write(title: str, lines: Iterable[str]) -> None:
        with capsys.disabled():
            print("\n== {0}".format(title))
            for line in lines:
                print(line)

    return write


def server_tail(server: Server) -> str:
    """Return the end of the server's log, for assertion messages."""
    return "\n--- gunicorn log (end) ---\n" + server.logs()[-4000:]


ERROR_LINE = re.compile(r"^(?:[\w.]+\.)?\w+(?:Error|Exception): .*")


def logged_errors(server: Server) -> Counter[str]:
    """Count the exception lines of the server's log (first 120 characters)."""
    return Counter(
        line[:120] for line in server.logs().splitlines() if ERROR_LINE.match(line)
    )


def test_concurrent_uploads(
    served: Server, app: Flask, location: Location, report: Report
) -> None:
    """Fifty clients upload to one record while others write and read."""
    scale, per_writer = files_per_writer()
    root = location.uri
    recorder, acked, problems = Recorder(), Acknowledged(), Problems()
    attempted: dict[str, dict[str, str]] = {}
    attempted_lock = threading.Lock()
    setup = Client(served.url, recorder)
    shared = setup.create_record()
    own = [setup.create_record() for _ in range(OWN_RECORD_WRITERS)]
    start = threading.Barrier(SHARED_WRITERS + OWN_RECORD_WRITERS + READERS + 1)
    writers_done = threading.Event()
    deadline = time.monotonic() + PHASE_LIMIT[scale]

    def write(pid: str, prefix: str, kind: str, seed: int) -> None:
        client = Client(served.url, recorder)
        rng = random.Random(seed)
        try:
            start.wait(60)
            for number in range(per_writer):
                if time.monotonic() > deadline:
                    problems.add("{0}: stopped at the deadline".format(prefix))
                    return
                data = os.urandom(rng.randint(1024, 8 * 1024))
                key = "{0}-{1:02d}.bin".format(prefix, number)
                digest = md5(data)
                with attempted_lock:
                    attempted.setdefault(pid, {})[key] = digest
                response = client.upload(pid, key, data, digest, kind=kind)
                if not is_success(response):
                    continue
                checksum = response.json().get("checksum")
                if checksum != "md5:" + digest:
                    problems.add("{0}: acknowledged with {1}".format(key, checksum))
                acked.add(pid, key, digest)
        finally:
            client.close()

    def read(seed: int) -> None:
        client = Client(served.url, recorder)
        rng = random.Random(seed)
        rounds = 0
        try:
            start.wait(60)
            while not writers_done.is_set() and time.monotonic() < deadline:
                rounds += 1
                # Taken before the request: these commits happened before it
                # started, so they must all be seen.
                known = acked.of(shared)
                if rounds % 3:
                    response = client.listing(shared)
                    items = response.json()["contents"] if is_success(response) else []
                else:
                    response = client.record(shared)
                    items = (
                        response.json()["metadata"].get("_files", [])
                        if is_success(response)
                        else []
                    )
                keys = [item["key"] for item in items]
                if len(keys) != len(set(keys)):
                    problems.add("reader saw a key twice: {0}".format(sorted(keys)))
                missing = set(known) - set(keys)
                if is_success(response) and missing:
                    problems.add(
                        "reader: acknowledged {0} not seen".format(sorted(missing)[:5])
                    )
                picked = acked.pick(rng)
                if picked is not None:
                    pid, key, digest = picked
                    response = client.download(pid, key)
                    if not is_success(response):
                        problems.add("reader: {0} answered {1}".format(key, response))
                    elif md5(response.content) != digest:
                        problems.add("reader: {0} downloaded other bytes".format(key))
                time.sleep(0.02)
        finally:
            client.close()

    sampler = LockWaitSampler(app.config["SQLALCHEMY_DATABASE_URI"])
    sampler.start()
    writers = start_threads(
        problems,
        write,
        [
            (shared, "w{0:02d}".format(index), "upload shared", index)
            for index in range(SHARED_WRITERS)
        ]
        + [
            (pid, "o{0:02d}".format(index), "upload own", 1000 + index)
            for index, pid in enumerate(own)
        ],
    )
    readers = start_threads(problems, read, [(2000 + i,) for i in range(READERS)])
    try:
        start.wait(60)
        began = time.monotonic()
        stuck = join_all(writers, deadline - time.monotonic() + 30)
        wall = time.monotonic() - began
    finally:
        writers_done.set()
        stuck_readers = join_all(readers, 150)
        sampler.stop()
    assert not stuck and not stuck_readers, "clients still running" + server_tail(
        served
    )

    consistency, leftovers, details = check_consistency(
        app, setup, root, attempted, acked
    )
    setup.close()

    uploads = SHARED_WRITERS * per_writer + OWN_RECORD_WRITERS * per_writer
    during = recorder.select(
        kinds={"upload shared", "upload own", "list bucket", "get record", "download"}
    )
    report(
        "concurrency ({0}: {1} writers x {2} files to one record, {3} to own "
        "records, {4} readers, {5} sync workers)".format(
            scale, SHARED_WRITERS, per_writer, OWN_RECORD_WRITERS, READERS, WORKERS
        ),
        [
            "  wall time {0:.2f} s; {1} uploads acknowledged of {2}; {3} requests "
            "during the run, {4} in all".format(
                wall, len(acked), uploads, len(during), len(recorder.outcomes)
            ),
            "  statuses: {0}".format(dict(recorder.statuses())),
            "  server log errors: {0}".format(dict(logged_errors(served))),
        ]
        + recorder.timings()
        + sampler.report()
        + [
            "  after: {versions} object versions, {downloads} files downloaded "
            "again, {on_disk} files on disk; {verify}".format(**details)
        ],
    )

    assert not recorder.server_errors(), recorder.server_errors()[:10]
    assert not recorder.unanswered(), recorder.unanswered()[:10]
    assert not problems, problems.found[:20]
    assert len(acked) == uploads, dict(recorder.statuses())
    assert not consistency, consistency[:20]
    assert leftovers == {}


def test_one_record_keeps_up_with_many(
    served: Server, app: Flask, location: Location, report: Report
) -> None:
    """Fifty clients uploading to one record, against the same load on fifty.

    Each client lists its record's files every fifth upload as the deposit
    page does (``tests/loadphases.py``): the readers of a growing record
    must not slow its uploads. The uploads per second to one record are
    printed as a share of those spread over one record per client, the
    layouts interleaved (spread, one, one, spread); the full mode asserts at
    least ``SHARED_RATE_FLOOR``. Both modes check that nothing is lost and
    that every bucket's size is exact.
    """
    scale, per_writer = files_per_writer()
    uploads = Uploads(Recorder())
    setup = Client(served.url, uploads.recorder)
    shared = setup.create_record()
    own = [setup.create_record() for _ in range(SHARED_WRITERS)]
    warm = setup.create_record()
    for number in range(2 * WORKERS):
        data, key = os.urandom(4096), "warm-{0}".format(number)
        uploads.attempt(warm, key, md5(data))
        response = setup.upload(warm, key, data, md5(data))
        assert is_success(response), response
        uploads.acked.add(warm, key, md5(data))
    sampler = LockWaitSampler(app.config["SQLALCHEMY_DATABASE_URI"])
    sampler.start()
    try:
        compared = compare_layouts(served.url, uploads, shared, own, per_writer)
    finally:
        sampler.stop()
    recorder, acked = uploads.recorder, uploads.acked
    consistency, leftovers, details = check_consistency(
        app, setup, location.uri, uploads.attempted, acked
    )
    quotas = quota_problems(bucket_of(setup, pid) for pid in [shared, warm] + own)
    setup.close()
    floor_note = "asserted" if scale == "full" else "printed only (reduced mode)"
    report(
        "one record vs many ({0}: {1} clients x {2} uploads, listing the first "
        "{3} every {4}, {5} sync workers)".format(
            scale, SHARED_WRITERS, per_writer, WATCHER_PAGE_SIZE, LIST_EVERY, WORKERS
        ),
        compared.lines()
        + [
            "  one record / spread: {0:.2f}   floor {1}: {2}".format(
                compared.ratio, SHARED_RATE_FLOOR, floor_note
            ),
            "  statuses: {0}".format(dict(recorder.statuses())),
            "  server log errors: {0}".format(dict(logged_errors(served))),
            "  quotas: {0}".format("exact" if not quotas else quotas[:5]),
        ]
        + recorder.timings(kinds={"upload", "list"})
        + ["  load average: {0}".format(os.getloadavg())]
        + sampler.report()
        + [
            "  after: {versions} object versions, {downloads} files downloaded "
            "again; {verify}".format(**details)
        ],
    )
    assert not recorder.server_errors(), recorder.server_errors()[:10]
    assert not recorder.unanswered(), recorder.unanswered()[:10]
    assert not uploads.problems, uploads.problems.found[:20]
    expected = compared.uploads_per_phase * len(compared.phases) + 2 * WORKERS
    assert len(acked) == expected, dict(recorder.statuses())
    assert not consistency, consistency[:20]
    assert leftovers == {}
    assert not quotas, quotas
    if scale == "full":
        assert compared.ratio >= SHARED_RATE_FLOOR, compared.lines()


def test_watchers_read_the_deposit_pages_first_page() -> None:
    # The load's watchers stand for people watching an upload on the
    # deposit page: they read what it reads.
    script = Path(ROOT, "examples", "page", "record.js").read_text()
    assert "const FILES_PAGE_SIZE = {0};".format(WATCHER_PAGE_SIZE) in script


KILLED = 2
"""Workers killed in the fault test (each is streaming one upload)."""

BIG_SIZES = [20 * MIB, 26 * MIB, 32 * MIB, 40 * MIB]
"""One large upload per worker, so that every worker is mid-stream."""


def test_worker_killed_mid_upload(
    served: Server, app: Flask, location: Location, report: Report
) -> None:
    """SIGKILL workers streaming large uploads: nothing half-written remains."""
    assert len(BIG_SIZES) == WORKERS
    root = location.uri
    recorder, acked, problems = Recorder(), Acknowledged(), Problems()
    setup = Client(served.url, recorder)
    pids = [setup.create_record(), setup.create_record()]
    uploads: list[tuple[str, str, PausingBody, str]] = []
    for index, size in enumerate(BIG_SIZES):
        data = os.urandom(size)
        uploads.append(
            (
                pids[index % len(pids)],
                "big-{0}.bin".format(index),
                PausingBody(data, pause_at=int(size * 0.4), delay=0.001),
                md5(data),
            )
        )
    attempted: dict[str, dict[str, str]] = {}
    for pid, key, _, digest in uploads:
        attempted.setdefault(pid, {})[key] = digest
    answers: dict[str, Optional[requests.Response]] = {}

    def upload(pid: str, key: str, body: PausingBody, digest: str) -> None:
        client = Client(served.url, recorder)
        try:
            answers[key] = client.upload(pid, key, body, digest, kind="upload big")
        finally:
            client.close()

    threads = start_threads(problems, upload, uploads)
    killed, respawned = [], []
    try:
        # Every worker is now reading one body; wait until each has written
        # part of it to disk (its upload is then really mid-stream).
        streaming = wait_until(
            lambda: (
                all(body.paused.is_set() for _, _, body, _ in uploads)
                and len(files_at_least(root, MIB)) == len(uploads)
            ),
            60,
        )
        assert streaming, "uploads did not reach the server" + server_tail(served)
        partial = files_at_least(root, MIB)
        before = served.worker_pids()
        assert len(before) == WORKERS, before
        killed = before[:KILLED]
        for worker_pid in killed:
            os.kill(worker_pid, signal.SIGKILL)
        assert wait_until(
            lambda: (
                len(served.worker_pids()) == WORKERS
                and not set(killed) & set(served.worker_pids())
            ),
            60,
        ), "gunicorn did not replace the killed workers" + server_tail(served)
        respawned = sorted(set(served.worker_pids()) - set(before))
    finally:
        for _, _, body, _ in uploads:
            body.release.set()
        stuck = join_all(threads, 180)
    assert not stuck, "uploads still running" + server_tail(served)
    assert not problems, problems.found

    failed = [key for _, key, _, _ in uploads if not is_success(answers.get(key))]
    for pid, key, _, digest in uploads:
        if key not in failed:
            acked.add(pid, key, digest)
            # Not failed: answered with a 2xx.
            answer = cast(requests.Response, answers[key])
            assert answer.json()["checksum"] == "md5:" + digest
    assert len(failed) == KILLED, (answers, recorder.outcomes)

    # The replaced workers serve new uploads.
    for number in range(2 * WORKERS):
        data = os.urandom(4096)
        key = "after-{0}.bin".format(number)
        attempted[pids[0]][key] = md5(data)
        response = setup.upload(pids[0], key, data, md5(data), kind="upload after")
        assert is_success(response), response
        acked.add(pids[0], key, md5(data))

    consistency, leftovers, details = check_consistency(
        app, setup, root, attempted, acked
    )
    setup.close()
    report(
        "worker killed mid-upload ({0} of {1} workers, {2} uploads of {3} MiB)".format(
            KILLED, WORKERS, len(uploads), [size // MIB for size in BIG_SIZES]
        ),
        [
            "  killed workers {0}, replaced by {1}".format(killed, respawned),
            "  statuses: {0}".format(dict(recorder.statuses())),
            "  server log errors: {0}".format(dict(logged_errors(served))),
            "  failed uploads: {0}".format(
                {
                    key: cast(requests.Response, answers[key]).status_code
                    if answers.get(key)
                    else "no answer"
                    for key in failed
                }
            ),
            "  partial files when killed: {0}".format(sorted(partial.values())),
            "  gc --min-age 0 reports {0} unreferenced files: {1} bytes".format(
                len(leftovers), sorted(leftovers.values())
            ),
            "  after: {versions} object versions, {on_disk} files on disk; "
            "{verify}".format(**details),
        ]
        + recorder.timings(),
    )
    assert not consistency, consistency
    # The killed uploads' bytes, and only those, are left for gc.
    assert len(leftovers) == KILLED, leftovers
    assert set(leftovers) <= set(partial), (leftovers, partial)


def restart_postgres(directory: str) -> float:
    """Restart the suite's PostgreSQL server; return how long it took."""
    began = time.monotonic()
    subprocess.run(
        [os.path.join(ROOT, "scripts", "postgres.sh"), "restart", directory],
        check=True,
        timeout=150,
        capture_output=True,
    )
    return time.monotonic() - began


def test_postgres_restart_during_uploads(
    postgres_dir: str, served: Server, app: Flask, location: Location, report: Report
) -> None:
    """Restart PostgreSQL under uploads: failures allowed, inconsistency not."""
    from invenio_db import db

    root = location.uri
    recorder, acked, problems = Recorder(), Acknowledged(), Problems()
    attempted: dict[str, dict[str, str]] = {}
    attempted_lock = threading.Lock()
    setup = Client(served.url, recorder)
    pids = [setup.create_record() for _ in range(3)]
    stop = threading.Event()

    def send(
        client: Client,
        pid: str,
        key: str,
        body: Union[bytes, PausingBody],
        kind: str,
        digest: Optional[str] = None,
    ) -> Optional[requests.Response]:
        # A PausingBody comes with its digest.
        digest = digest or md5(cast(bytes, body))
        with attempted_lock:
            attempted.setdefault(pid, {})[key] = digest
        response = client.upload(pid, key, body, digest, kind=kind)
        if is_success(response):
            acked.add(pid, key, digest)
        return response

    def upload_loop(index: int) -> None:
        client = Client(served.url, recorder, timeout=(10, 60))
        rng = random.Random(index)
        try:
            number = 0
            while not stop.is_set():
                data = os.urandom(rng.randint(2 * 1024, 32 * 1024))
                key = "s{0}-{1:04d}.bin".format(index, number)
                send(client, pids[index % len(pids)], key, data, "upload")
                number += 1
                time.sleep(0.01)
        finally:
            client.close()

    # Two uploads stay mid-stream across the restart: their transactions
    # are open (and lose their connection) while their bytes still arrive.
    # The storage writes 5 MiB pieces: pausing at 8 MiB puts one on disk.
    slow = [
        (
            pids[index],
            "slow-{0}.bin".format(index),
            PausingBody(os.urandom(16 * MIB), pause_at=8 * MIB, delay=0.002),
        )
        for index in range(2)
    ]

    def slow_upload(pid: str, key: str, body: PausingBody) -> None:
        client = Client(served.url, recorder)
        try:
            send(client, pid, key, body, "upload slow", digest=md5(body.data))
        finally:
            client.close()

    threads = start_threads(problems, slow_upload, slow)
    loops: list[threading.Thread] = []
    window: list[Optional[float]] = [None, None]
    try:
        assert wait_until(lambda: len(files_at_least(root, MIB)) == len(slow), 60), (
            "slow uploads did not reach the server" + server_tail(served)
        )
        loops = start_threads(problems, upload_loop, [(i,) for i in range(6)])
        time.sleep(3)
        # Hold no connection of our own across the restart.
        db.session.remove()
        window[0] = time.monotonic()
        try:
            restart_seconds = restart_postgres(postgres_dir)
        finally:
            window[1] = time.monotonic()
            # The pool's idle connections died with the server.
            db.engine.dispose()
        time.sleep(2)
        for _, _, body in slow:
            body.release.set()
        time.sleep(3)
    finally:
        for _, _, body in slow:
            body.release.set()
        stop.set()
        stuck = join_all(threads + loops, 180)
    assert not stuck, "uploads still running" + server_tail(served)
    assert not problems, problems.found

    # New uploads work again: the first success may take a few tries (each
    # worker may hold pooled connections of the old server), then every
    # upload must succeed.
    client = Client(served.url, recorder)
    first = time.monotonic()
    recovered = wait_until(
        lambda: is_success(
            send(
                client,
                pids[0],
                "again-{0}.bin".format(time.time_ns()),
                b"x" * 99,
                "recover",
            )
        ),
        60,
        interval=0.5,
    )
    assert recovered, "uploads never worked again" + server_tail(served)
    recovery = time.monotonic() - first
    for number in range(3 * WORKERS):
        response = send(
            client,
            pids[number % len(pids)],
            "after-{0}.bin".format(number),
            os.urandom(4096),
            "upload after",
        )
        assert is_success(response), (response, server_tail(served))
    client.close()

    consistency, leftovers, details = check_consistency(
        app, setup, root, attempted, acked
    )
    setup.close()
    kinds = {"upload", "upload slow"}
    report(
        "PostgreSQL restart during uploads",
        [
            "  restart took {0:.2f} s; uploads before / during / after it: "
            "{1} / {2} / {3}".format(
                restart_seconds,
                dict(recorder.statuses(kinds=kinds, until=window[0])),
                dict(recorder.statuses(kinds=kinds, since=window[0], until=window[1])),
                dict(recorder.statuses(kinds=kinds, since=window[1])),
            ),
            "  server log errors: {0}".format(dict(logged_errors(served))),
            "  slow uploads: {0}".format(
                dict(recorder.statuses(kinds={"upload slow"}))
            ),
            "  recovery: {0} tries, {1:.2f} s; then {2}".format(
                len(recorder.select(kinds={"recover"})),
                recovery,
                dict(recorder.statuses(kinds={"upload after"})),
            ),
            "  gc --min-age 0 reports {0} unreferenced files: {1} bytes".format(
                len(leftovers), sorted(leftovers.values())
            ),
            "  after: {versions} object versions, {downloads} uploads checked, "
            "{on_disk} files on disk; {verify}".format(**details),
            "  committed although not answered 2xx (whole, as checked): {0}".format(
                details["committed_unacknowledged"]
            ),
        ]
        + recorder.timings(),
    )
    assert len(acked.all()) > 0
    assert not consistency, consistency
