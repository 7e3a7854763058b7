"""Helpers of the load and fault tests (``tests/test_load.py``).

HTTP clients that record the outcome of every request, request bodies that
stop part way, a sampler of PostgreSQL lock waits, and the consistency
checks run at the end of each test: what the server acknowledged is
listed, in ``_files`` and downloadable; every file instance has its bytes;
``verify --all`` is clean; ``gc`` reports exactly the bytes nothing uses.
"""

import hashlib
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Literal,
    NamedTuple,
    Optional,
    TypedDict,
    Union,
    cast,
)

import psycopg2
import requests
from click.testing import Result
from flask import Flask
from invenio_db import db
from invenio_files_rest.models import Bucket, FileInstance, ObjectVersion
from sqlalchemy import Row, func, select
from sqlalchemy.engine import make_url

from invenio_records_files_ext.cli import records_files
from tests.helpers import storage_files

if TYPE_CHECKING:
    from typing import TypeGuard

MIB = 1024 * 1024

TIMEOUT = (10, 120)
"""Connect and read timeouts of every request: no client waits forever.

Sync workers leave queued connections in the listen backlog, so a request
may wait for many others before it is read; 120 s is far above that.
"""


def md5(data: bytes) -> str:
    """Return the hex MD5 digest of ``data``."""
    return hashlib.md5(data).hexdigest()


def is_postgresql(uri: str) -> bool:
    """Tell whether a SQLAlchemy URI names a PostgreSQL database."""
    try:
        return make_url(uri).get_backend_name() == "postgresql"
    except Exception:
        return False


def wait_until(
    predicate: Callable[[], object], seconds: float, interval: float = 0.1
) -> bool:
    """Poll ``predicate`` until it is true; return whether it became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Outcome(NamedTuple):
    """One request: ``status`` is ``None`` when no response came (``error``)."""

    kind: str
    status: Optional[int]
    error: Optional[str]
    started: float
    seconds: float


class Recorder:
    """The outcome of every request of a test, shared by its threads."""

    def __init__(self) -> None:
        """Start with no request."""
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        """Record one request."""
        with self._lock:
            self.outcomes.append(outcome)

    def select(
        self,
        kinds: Optional[Collection[str]] = None,
        since: Optional[float] = None,
        until: Optional[float] = None,
    ) -> list[Outcome]:
        """Return the outcomes of these kinds started in ``[since, until)``."""
        with self._lock:
            found = list(self.outcomes)
        return [
            outcome
            for outcome in found
            if (kinds is None or outcome.kind in kinds)
            and (since is None or outcome.started >= since)
            and (until is None or outcome.started < until)
        ]

    def statuses(self, **filters: Any) -> Counter[Union[int, str]]:
        """Count the statuses; requests without an answer count by error class."""
        return Counter(
            (
                outcome.status
                if outcome.status is not None
                # No status: the request got no answer, and an error.
                else cast(str, outcome.error).split(":")[0]
            )
            for outcome in self.select(**filters)
        )

    def server_errors(self, **filters: Any) -> list[Outcome]:
        """Return the requests answered with a 5xx status."""
        return [
            outcome
            for outcome in self.select(**filters)
            if outcome.status is not None and outcome.status >= 500
        ]

    def unanswered(self, **filters: Any) -> list[Outcome]:
        """Return the requests that got no response at all."""
        return [outcome for outcome in self.select(**filters) if outcome.status is None]

    def timings(self, kinds: Optional[Collection[str]] = None) -> list[str]:
        """Return one report line per kind: count, rate and latencies."""
        by_kind: dict[str, list[Outcome]] = {}
        for outcome in self.select(kinds):
            by_kind.setdefault(outcome.kind, []).append(outcome)
        lines = []
        for kind in sorted(by_kind):
            found = by_kind[kind]
            seconds = sorted(outcome.seconds for outcome in found)
            first = min(outcome.started for outcome in found)
            last = max(outcome.started + outcome.seconds for outcome in found)
            lines.append(
                "  {0:<16} {1:>6} requests in {2:7.2f} s ({3:7.1f}/s); latency "
                "p50 {4:6.3f} s, p95 {5:6.3f} s, max {6:6.3f} s".format(
                    kind,
                    len(found),
                    last - first,
                    len(found) / max(last - first, 1e-9),
                    percentile(seconds, 50),
                    percentile(seconds, 95),
                    seconds[-1],
                )
            )
        return lines


def percentile(ordered: Sequence[float], rank: float) -> float:
    """Return the ``rank``-th percentile of an ordered, non-empty list."""
    index = min(len(ordered) - 1, max(0, round(rank / 100.0 * (len(ordered) - 1))))
    return ordered[index]


def is_success(response: Optional[requests.Response]) -> "TypeGuard[requests.Response]":
    """Tell whether a response (or ``None``) is a 2xx answer."""
    return response is not None and 200 <= response.status_code < 300


class Client:
    """One HTTP client of the demo server, with its own session."""

    def __init__(
        self, url: str, recorder: Recorder, timeout: tuple[float, float] = TIMEOUT
    ) -> None:
        """Talk to the server at ``url``; record every request."""
        self.url = url
        self.recorder = recorder
        self.timeout = timeout
        self.session = requests.Session()

    def send(
        self, kind: str, method: str, path: str, **kwargs: Any
    ) -> Optional[requests.Response]:
        """Send one request; return the response, or ``None`` if none came."""
        started = time.monotonic()
        try:
            response = self.session.request(
                method, self.url + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as error:
            self.recorder.add(
                Outcome(
                    kind,
                    None,
                    "{0}: {1}".format(type(error).__name__, str(error)[:300]),
                    started,
                    time.monotonic() - started,
                )
            )
            return None
        # Read the whole body before stopping the clock (it is not streamed).
        response.content  # noqa: B018 - reading the body is the point
        self.recorder.add(
            Outcome(
                kind, response.status_code, None, started, time.monotonic() - started
            )
        )
        return response

    def create_record(self) -> str:
        """Create a record; return its PID value."""
        response = self.send(
            "create record", "POST", "/records/", json={"title": "load"}
        )
        assert response is not None and response.status_code == 201, (
            response.text if response is not None else "no response"
        )
        pid: str = response.json()["id"]
        return pid

    def upload(
        self,
        pid: str,
        key: str,
        body: "Union[bytes, PausingBody]",
        digest: str,
        kind: str = "upload",
    ) -> Optional[requests.Response]:
        """PUT ``body`` (bytes or a file-like object with a length) as ``key``.

        The Content-MD5 header makes the server check the bytes it received.
        """
        headers = {"Content-Type": "application/octet-stream", "Content-MD5": digest}
        return self.send(
            kind,
            "PUT",
            "/records/{0}/files/{1}".format(pid, key),
            data=body,
            headers=headers,
        )

    def download(
        self, pid: str, key: str, kind: str = "download"
    ) -> Optional[requests.Response]:
        """GET the bytes of a file."""
        return self.send(kind, "GET", "/records/{0}/files/{1}".format(pid, key))

    def listing(
        self, pid: str, kind: str = "list bucket", size: Optional[int] = None
    ) -> Optional[requests.Response]:
        """GET the list of a record's files (its first page of ``size``)."""
        query = "" if size is None else "?size={0}".format(size)
        return self.send(kind, "GET", "/records/{0}/files{1}".format(pid, query))

    def record(self, pid: str, kind: str = "get record") -> Optional[requests.Response]:
        """GET a record; its metadata holds ``_files``."""
        return self.send(kind, "GET", "/records/{0}".format(pid))

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()


class Acknowledged:
    """Uploads the server acknowledged with a 2xx, with their MD5."""

    def __init__(self) -> None:
        """Start with none."""
        self._lock = threading.Lock()
        self._by_record: dict[str, dict[str, str]] = {}
        self._all: list[tuple[str, str, str]] = []

    def add(self, pid: str, key: str, digest: str) -> None:
        """Note an acknowledged upload."""
        with self._lock:
            self._by_record.setdefault(pid, {})[key] = digest
            self._all.append((pid, key, digest))

    def of(self, pid: str) -> dict[str, str]:
        """Return ``{key: md5}`` of a record's acknowledged uploads."""
        with self._lock:
            return dict(self._by_record.get(pid, {}))

    def all(self) -> list[tuple[str, str, str]]:
        """Return every ``(pid, key, md5)`` acknowledged so far."""
        with self._lock:
            return list(self._all)

    def pick(self, rng: random.Random) -> Optional[tuple[str, str, str]]:
        """Return a random acknowledged ``(pid, key, md5)``, or ``None``."""
        with self._lock:
            return rng.choice(self._all) if self._all else None

    def __len__(self) -> int:
        """Return how many uploads were acknowledged."""
        with self._lock:
            return len(self._all)


class Problems:
    """Inconsistencies seen by the threads of a test, reported at the end."""

    def __init__(self) -> None:
        """Start with none."""
        self._lock = threading.Lock()
        self.found: list[str] = []

    def add(self, message: str) -> None:
        """Note one problem."""
        with self._lock:
            self.found.append(message)

    def __bool__(self) -> bool:
        """Tell whether any problem was seen."""
        with self._lock:
            return bool(self.found)

    def guard(self, target: Callable[..., object]) -> Callable[..., None]:
        """Wrap a thread's function so that an exception becomes a problem."""

        def run(*args: Any) -> None:
            try:
                target(*args)
            except BaseException as error:
                self.add("{0} raised {1!r}".format(target.__name__, error))

        return run


def start_threads(
    problems: Problems,
    target: Callable[..., object],
    argument_lists: Iterable[Sequence[Any]],
) -> list[threading.Thread]:
    """Start one daemon thread per argument list; return them."""
    threads = [
        threading.Thread(target=problems.guard(target), args=args, daemon=True)
        for args in argument_lists
    ]
    for thread in threads:
        thread.start()
    return threads


def join_all(
    threads: Sequence[threading.Thread], seconds: float
) -> list[threading.Thread]:
    """Join threads within ``seconds`` in all; return those still running."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread for thread in threads if thread.is_alive()]


class PausingBody:
    """A request body with a known length that stops part way.

    It hands out its first ``pause_at`` bytes, sets :attr:`paused` and
    waits (at most ``max_wait`` seconds) for :attr:`release`, then hands out
    the rest, ``piece`` bytes at a time with ``delay`` seconds between
    pieces, so that the upload stays in flight a while. Having ``read`` and
    ``__len__`` (and no ``__iter__``), it is sent with a Content-Length,
    not chunked.
    """

    def __init__(
        self,
        data: bytes,
        pause_at: int,
        piece: int = 64 * 1024,
        delay: float = 0.0,
        max_wait: float = 90,
    ) -> None:
        """Wrap ``data``; pause after ``pause_at`` bytes."""
        self.data = data
        self.pause_at = pause_at
        self.piece = piece
        self.delay = delay
        self.max_wait = max_wait
        self.position = 0
        self.paused = threading.Event()
        self.release = threading.Event()

    def __len__(self) -> int:
        """Return the number of bytes the body holds."""
        return len(self.data)

    def read(self, size: Optional[int] = -1) -> bytes:
        """Return the next piece of the body (``b""`` at its end)."""
        if self.position >= self.pause_at and not self.release.is_set():
            self.paused.set()
            self.release.wait(self.max_wait)
        elif self.position >= self.pause_at and self.delay:
            time.sleep(self.delay)
        size = self.piece if size is None or size < 0 else min(size, self.piece)
        end = min(self.position + size, len(self.data))
        if self.position < self.pause_at:
            end = min(end, self.pause_at)
        chunk = self.data[self.position : end]
        self.position = end
        return chunk


def files_at_least(root: str, size: int) -> dict[str, int]:
    """Return the files under ``root`` holding at least ``size`` bytes."""
    found: dict[str, int] = {}
    for path in storage_files(root):
        try:
            found[path] = os.path.getsize(path)
        except OSError:
            # Deleted between the walk and the stat: a rolled back upload.
            continue
    return {path: found[path] for path in found if found[path] >= size}


class LockWaitSampler(threading.Thread):
    """Samples, every ``interval`` seconds, the backends waiting for a lock.

    Shows how the row lock on a record serialises its writers: how many
    transactions queue at once and for how long.
    """

    QUERY = (
        "SELECT count(*), "
        "coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0), "
        "string_agg(DISTINCT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), "
        "' | ') "
        "FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )

    def __init__(self, uri: str, interval: float = 0.1) -> None:
        """Sample the database at ``uri`` (a SQLAlchemy URI)."""
        super().__init__(daemon=True)
        url = make_url(uri)
        self.connect_args = dict(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            dbname=url.database,
            connect_timeout=5,
        )
        self.interval = interval
        self.stopping = threading.Event()
        self.samples = 0
        self.with_waiters = 0
        self.max_waiters = 0
        self.max_wait = 0.0
        self.total_waiters = 0
        self.queries: Counter[str] = Counter()
        self.error: Optional[Exception] = None

    def run(self) -> None:
        """Sample until :meth:`stop` is called."""
        try:
            connection = psycopg2.connect(**self.connect_args)
        except psycopg2.Error as error:
            self.error = error
            return
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                while not self.stopping.is_set():
                    cursor.execute(self.QUERY)
                    waiters, longest, queries = cursor.fetchone()
                    self.samples += 1
                    if waiters:
                        self.with_waiters += 1
                        self.total_waiters += waiters
                        self.max_waiters = max(self.max_waiters, waiters)
                        self.max_wait = max(self.max_wait, float(longest))
                        for query in (queries or "").split(" | "):
                            self.queries[query] += 1
                    self.stopping.wait(self.interval)
        except psycopg2.Error as error:
            self.error = error
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self.stopping.set()
        self.join(10)

    def report(self) -> list[str]:
        """Return report lines."""
        if self.error is not None:
            return ["  lock waits: sampling failed: {0}".format(self.error)]
        lines = [
            "  lock waits: {0} of {1} samples had waiters; at most {2} at once, "
            "{3:.2f} on average when any; longest wait seen {4:.3f} s".format(
                self.with_waiters,
                self.samples,
                self.max_waiters,
                self.total_waiters / max(self.with_waiters, 1),
                self.max_wait,
            )
        ]
        for query, count in self.queries.most_common(3):
            lines.append("    waiting in ({0} samples): {1}".format(count, query))
        return lines


#
# Consistency checks, run in the test process against the same database
#
def bucket_of(client: Client, pid: str) -> str:
    """Return the bucket id of a record (from its ``_bucket``)."""
    response = client.record(pid, kind="check")
    assert is_success(response), response
    bucket_id: str = response.json()["metadata"]["_bucket"]
    return bucket_id


def file_rows(bucket_ids: Iterable[str]) -> Sequence[Row[Any]]:
    """Return ``(bucket, key, uri, size)`` of every version in the buckets."""
    db.session.rollback()
    rows: Sequence[Row[Any]] = db.session.execute(
        select(
            ObjectVersion.bucket_id,
            ObjectVersion.key,
            FileInstance.uri,
            FileInstance.size,
        )
        .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
        .where(ObjectVersion.bucket_id.in_(list(bucket_ids)))
    ).all()
    db.session.rollback()
    return rows


def quota_problems(bucket_ids: Iterable[str]) -> list[str]:
    """Compare each bucket's size with what Invenio-Files-REST would count.

    Files-REST adds the size of every new version and takes back the size
    of the version a delete marker hides; for buckets that only received
    uploads (no delete marker) the size is the sum of all their versions.
    """
    db.session.rollback()
    ids = [uuid.UUID(str(bucket_id)) for bucket_id in bucket_ids]
    sizes = dict(
        db.session.execute(
            select(Bucket.id, Bucket.size).where(Bucket.id.in_(ids))
        ).all()
    )
    counted = dict(
        db.session.execute(
            select(ObjectVersion.bucket_id, func.sum(FileInstance.size))
            .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
            .where(ObjectVersion.bucket_id.in_(ids))
            .group_by(ObjectVersion.bucket_id)
        ).all()
    )
    markers = db.session.execute(
        select(func.count())
        .select_from(ObjectVersion)
        .where(ObjectVersion.bucket_id.in_(ids), ObjectVersion.file_id.is_(None))
    ).scalar()
    db.session.rollback()
    problems: list[str] = []
    if markers:
        problems.append("{0} delete markers: not an uploads-only load".format(markers))
    for bucket_id in ids:
        expected = int(counted.get(bucket_id) or 0)
        if sizes.get(bucket_id) != expected:
            problems.append(
                "bucket {0}: size {1}, its versions hold {2} bytes".format(
                    bucket_id, sizes.get(bucket_id), expected
                )
            )
    return problems


def missing_bytes(rows: Iterable[Sequence[Any]]) -> list[str]:
    """Return a description of every version whose bytes are not on disk whole."""
    problems: list[str] = []
    for bucket_id, key, uri, size in rows:
        path = uri[len("file://") :] if uri.startswith("file://") else uri
        try:
            found = os.path.getsize(path)
        except OSError:
            problems.append("{0}/{1}: no bytes at {2}".format(bucket_id, key, uri))
            continue
        if found != size:
            problems.append(
                "{0}/{1}: {2} bytes on disk, {3} recorded".format(
                    bucket_id, key, found, size
                )
            )
    return problems


def referenced_paths() -> set[str]:
    """Return the absolute paths of the bytes of every file instance."""
    db.session.rollback()
    uris = db.session.execute(
        select(FileInstance.uri).where(FileInstance.uri.isnot(None))
    ).scalars()
    paths = {
        os.path.abspath(uri[len("file://") :] if uri.startswith("file://") else uri)
        for uri in uris
    }
    db.session.rollback()
    return paths


def run_cli(app: Flask, *args: object) -> Result:
    """Run ``flask records-files ARGS...`` in-process; return click's result."""
    return app.test_cli_runner().invoke(records_files, [str(arg) for arg in args])


GC_BYTES = re.compile(r"^Unreferenced bytes (.+): (\d+) bytes( \(recent, kept\))?$")
GC_ORPHANS = re.compile(r"^Orphan file instances: (\d+), (\d+) bytes\.$")
GC_BUCKETS = re.compile(r"^Unused buckets: (\d+), (\d+) bytes to reclaim\.$")


class GcReport(TypedDict):
    """What a ``gc`` run reported (see :func:`parse_gc`)."""

    unreferenced: dict[str, int]
    recent: dict[str, int]
    orphans: Optional[int]
    unused_buckets: Optional[int]


def parse_gc(output: str) -> GcReport:
    """Return what a ``gc`` run reported: bytes by path, orphans, buckets."""
    report = GcReport(unreferenced={}, recent={}, orphans=None, unused_buckets=None)
    for line in output.splitlines():
        match = GC_BYTES.match(line)
        if match:
            bucket: Literal["recent", "unreferenced"] = (
                "recent" if match.group(3) else "unreferenced"
            )
            report[bucket][os.path.abspath(match.group(1))] = int(match.group(2))
            continue
        match = GC_ORPHANS.match(line)
        if match:
            report["orphans"] = int(match.group(1))
            continue
        match = GC_BUCKETS.match(line)
        if match:
            report["unused_buckets"] = int(match.group(1))
    return report


def listed_files(client: Client, pid: str) -> Optional[list[tuple[str, str]]]:
    """Return ``(key, checksum)`` of every file the listing shows, page by page.

    ``None`` if a page could not be read.
    """
    found: list[tuple[str, str]] = []
    response = client.listing(pid, kind="check")
    while True:
        if not is_success(response):
            return None
        page = response.json()
        found += [(item["key"], item["checksum"]) for item in page["contents"]]
        following = page.get("links", {}).get("next")
        if not following:
            return found
        response = client.send(
            "check", "GET", following[following.index("/records/") :]
        )


def check_consistency(
    app: Flask,
    client: Client,
    root: str,
    attempted: Mapping[str, Mapping[str, str]],
    acknowledged: Acknowledged,
    workers: int = 8,
) -> tuple[list[str], dict[str, int], dict[str, Any]]:
    """Check what the server holds against what the clients did.

    :param attempted: ``{pid: {key: md5}}`` of every upload sent.
    :param acknowledged: an :class:`Acknowledged`.
    :returns: ``(problems, leftovers, details)``: a list of descriptions of
        what is wrong, ``gc``'s unreferenced bytes (``{path: size}``) and a
        dict for the report (counts, and the uploads that were committed
        although their client got no 2xx).
    """
    problems: list[str] = []
    bucket_ids: list[str] = []
    downloads: list[tuple[str, str, str, bool]] = []
    committed_unacknowledged: list[str] = []
    for pid, sent in sorted(attempted.items()):
        acked = acknowledged.of(pid)
        bucket_ids.append(bucket_of(client, pid))
        listed = listed_files(client, pid)
        if listed is None:
            problems.append("{0}: listing failed".format(pid))
            continue
        record = client.record(pid, kind="check")
        if not is_success(record):
            problems.append("{0}: record answered {1}".format(pid, record))
            continue
        metadata = record.json()["metadata"]
        summary = metadata.get("_files_summary", {})
        if "_files" in metadata or summary.get("inline", True):
            entries = [
                (entry["key"], entry["checksum"])
                for entry in metadata.get("_files", [])
            ]
        else:
            # Records with more files than RECORDS_FILES_INLINE_MAX_ENTRIES
            # show no _files: compare the listing with the summary instead.
            if summary["count"] != len(listed):
                problems.append(
                    "{0}: summary counts {1} files, listing {2}".format(
                        pid, summary["count"], len(listed)
                    )
                )
            entries = listed
        for where, found in (("listing", listed), ("_files", entries)):
            counts = Counter(key for key, _ in found)
            for key, count in counts.items():
                if count != 1:
                    problems.append(
                        "{0}: {1} holds {2} {3} times".format(pid, where, key, count)
                    )
            for key, checksum in found:
                if key not in sent:
                    problems.append(
                        "{0}: {1} holds {2}, never sent".format(pid, where, key)
                    )
                elif checksum != "md5:" + sent[key]:
                    problems.append(
                        "{0}: {1} has checksum {2} for {3}".format(
                            pid, where, checksum, key
                        )
                    )
            for key in acked:
                if key not in counts:
                    problems.append(
                        "{0}: acknowledged {1} missing from {2}".format(pid, key, where)
                    )
        listed_keys = {key for key, _ in listed}
        if listed_keys != {key for key, _ in entries}:
            problems.append(
                "{0}: listing and _files differ: {1}".format(
                    pid, sorted(listed_keys ^ {key for key, _ in entries})
                )
            )
        # Unacknowledged uploads may have been committed (the answer was
        # lost): then they must be whole. Either way, download to be sure.
        for key, digest in sent.items():
            downloads.append((pid, key, digest, key in acked or key in listed_keys))
            if key in listed_keys and key not in acked:
                committed_unacknowledged.append("{0}/{1}".format(pid, key))

    def fetch(part: Sequence[tuple[str, str, str, bool]]) -> None:
        own = Client(client.url, client.recorder)
        try:
            for pid, key, digest, present in part:
                response = own.download(pid, key, kind="check download")
                if response is None:
                    problems.append("{0}/{1}: download got no answer".format(pid, key))
                elif response.status_code == 200:
                    if md5(response.content) != digest:
                        problems.append(
                            "{0}/{1}: downloaded bytes differ ({2} bytes)".format(
                                pid, key, len(response.content)
                            )
                        )
                    elif not present:
                        problems.append(
                            "{0}/{1}: downloadable but not listed".format(pid, key)
                        )
                elif response.status_code != 404 or present:
                    problems.append(
                        "{0}/{1}: download answered {2}".format(
                            pid, key, response.status_code
                        )
                    )
        finally:
            own.close()

    threads = [
        threading.Thread(target=fetch, args=(downloads[index::workers],), daemon=True)
        for index in range(workers)
    ]
    for thread in threads:
        thread.start()
    if join_all(threads, 600):
        problems.append("final downloads did not finish in 600 s")

    rows = file_rows(bucket_ids)
    problems.extend(missing_bytes(rows))

    verify = run_cli(app, "verify", "--all")
    if verify.exit_code != 0:
        problems.append(
            "verify --all exited {0}:\n{1}".format(verify.exit_code, verify.output)
        )

    gc = run_cli(app, "gc", "--min-age", "0")
    report = parse_gc(gc.output)
    on_disk = {os.path.abspath(path) for path in storage_files(root)}
    expected = on_disk - referenced_paths()
    if gc.exit_code != 0:
        problems.append("gc exited {0}:\n{1}".format(gc.exit_code, gc.output))
    if set(report["unreferenced"]) | set(report["recent"]) != expected:
        problems.append(
            "gc reported {0}, disk minus referenced is {1}".format(
                sorted(report["unreferenced"]), sorted(expected)
            )
        )
    for path, size in report["unreferenced"].items():
        if path in expected and os.path.getsize(path) != size:
            problems.append("gc reported {0} bytes for {1}".format(size, path))
    if report["orphans"] != 0:
        problems.append("gc found orphan file instances:\n" + gc.output)
    if report["unused_buckets"] != 0:
        problems.append("gc found unused buckets:\n" + gc.output)
    details = dict(
        versions=len(rows),
        downloads=len(downloads),
        verify=" ".join(
            line for line in verify.output.splitlines() if line.startswith("Verified")
        ),
        on_disk=len(on_disk),
        committed_unacknowledged=committed_unacknowledged,
    )
    return problems, report["unreferenced"], details
