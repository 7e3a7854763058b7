"""Upload phases with watchers: one record against one record per client.

Shared by the load test (``tests/test_load.py``) and its benchmark
(``benchmarks/load.py``). Fifty clients upload small files, each to the
one shared record or each to a record of its own, and every fifth upload
each client lists its record's files as a person watching the upload does.
The layouts run interleaved (spread, one, one, spread) so that a drift of
the machine's speed favours neither; the uploads per second to one record,
as a share of those spread over fifty, say whether the readers of a growing
record slow its uploads.

A watcher reads what the deposit page reads: the first page of
:data:`WATCHER_PAGE_SIZE` files (``FILES_PAGE_SIZE`` of
``examples/page/record.js``). A client asking for the default page
(``RECORDS_FILES_LISTING_PAGE_SIZE``, 1,000) instead reads up to fifty times
the entries of a spread client's record on every poll: that reader costs in
proportion to what it asks for, which :func:`compare_layouts` measures too
(``page_size=None``), per process group (:func:`cpu_seconds`).
"""

import os
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from tests.loadtools import (
    Acknowledged,
    Client,
    Problems,
    Recorder,
    is_success,
    join_all,
    md5,
    start_threads,
)

SHARED_WRITERS = 50
"""Clients of the one-record comparison (and records of its spread layout)."""

LIST_EVERY = 5
"""Each client lists its record's files every fifth upload, as people
watching an upload do."""

WATCHER_PAGE_SIZE = 100
"""The page a watcher reads: the deposit page's first (``FILES_PAGE_SIZE``)."""

ORDER = ("spread", "shared", "shared", "spread")
"""The layouts' phases, mirrored so that a drift favours neither."""


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this machine's gunicorn and PostgreSQL
    processes and by this process (``client``), from ``/proc``.

    Processes that ended in between are not counted: the groups' figures
    are meant for phases in which the server's workers live throughout.
    """
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {"client": 0.0, "gunicorn": 0.0, "postgres": 0.0}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ")
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(name) == os.getpid():
            group = "client"
        elif b"gunicorn" in command:
            group = "gunicorn"
        elif b"postgres" in command:
            group = "postgres"
        else:
            continue
        # utime and stime: the 14th and 15th fields of stat.
        used[group] += (int(fields[11]) + int(fields[12])) / tick
    return used


def check_listing(
    client: Client,
    pid: str,
    known: Iterable[str],
    problems: Problems,
    page_size: Optional[int] = WATCHER_PAGE_SIZE,
) -> None:
    """List the record's first page of files; note what is wrong with it.

    :param page_size: the page asked for (``None``: the default page).
    """
    response = client.listing(pid, kind="list", size=page_size)
    if not is_success(response):
        problems.add("listing answered {0}".format(response))
        return
    body = response.json()
    keys = [item["key"] for item in body["contents"]]
    if len(keys) != len(set(keys)):
        problems.add("listing showed a key twice")
    # The acknowledged uploads were committed before the request: a whole
    # listing (one page) shows them all.
    missing = set(known) - set(keys)
    if "next" not in body["links"] and missing:
        problems.add("listing: acknowledged {0} not shown".format(sorted(missing)[:5]))


@dataclass
class Uploads:
    """What the clients of a run attempted and what was acknowledged."""

    recorder: Recorder
    acked: Acknowledged = field(default_factory=Acknowledged)
    problems: Problems = field(default_factory=Problems)
    attempted: dict[str, dict[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, pid: str, key: str, digest: str) -> None:
        """Note an upload about to be sent."""
        with self.lock:
            self.attempted.setdefault(pid, {})[key] = digest


def upload_phase(
    url: str,
    uploads: Uploads,
    clients: Sequence[tuple[str, str]],
    per_client: int,
    list_every: Optional[int] = None,
    page_size: Optional[int] = WATCHER_PAGE_SIZE,
) -> float:
    """Each client uploads ``per_client`` files to its record; return the wall time.

    :param clients: ``[(pid, key prefix), ...]``, one per client thread.
    :param list_every: list the record's files after every this many uploads.
    :param page_size: the page those listings ask for (``None``: the default).
    """
    start = threading.Barrier(len(clients) + 1)

    def write(pid: str, prefix: str, seed: int) -> None:
        client = Client(url, uploads.recorder)
        rng = random.Random(seed)
        try:
            start.wait(60)
            for number in range(per_client):
                data = os.urandom(rng.randint(1024, 8 * 1024))
                key = "{0}-{1:02d}.bin".format(prefix, number)
                digest = md5(data)
                uploads.attempt(pid, key, digest)
                response = client.upload(pid, key, data, digest, kind="upload")
                if not is_success(response):
                    continue
                if response.json().get("checksum") != "md5:" + digest:
                    uploads.problems.add(
                        "{0}: acknowledged with another checksum".format(key)
                    )
                uploads.acked.add(pid, key, digest)
                if list_every and (number + 1) % list_every == 0:
                    known = uploads.acked.of(pid)
                    check_listing(client, pid, known, uploads.problems, page_size)
        finally:
            client.close()

    threads = start_threads(
        uploads.problems,
        write,
        [(pid, prefix, index) for index, (pid, prefix) in enumerate(clients)],
    )
    start.wait(60)
    began = time.monotonic()
    stuck = join_all(threads, 600)
    assert not stuck, "uploads still running after 600 s"
    return time.monotonic() - began


@dataclass
class Phase:
    """One phase of :func:`compare_layouts`."""

    layout: str
    """``spread`` (one record per client) or ``shared`` (one record)."""
    wall: float
    """Seconds from the first upload to the last answer."""
    cpu: dict[str, float]
    """CPU seconds each process group used in it (:func:`cpu_seconds`)."""


@dataclass
class Comparison:
    """The phases of one record against one record per client."""

    uploads_per_phase: int
    phases: list[Phase]

    def rate(self, layout: str) -> float:
        """Uploads per second of a layout, over its phases."""
        walls = [phase.wall for phase in self.phases if phase.layout == layout]
        return self.uploads_per_phase * len(walls) / sum(walls)

    @property
    def ratio(self) -> float:
        """Uploads per second to one record, as a share of those spread."""
        return self.rate("shared") / self.rate("spread")

    def lines(self) -> list[str]:
        """The comparison, as report lines."""
        lines = [
            "  phases (wall seconds): {0}".format(
                ", ".join(
                    "{0} {1:.2f}".format(phase.layout, phase.wall)
                    for phase in self.phases
                )
            ),
            "  uploads/s: spread over {0} records {1:.1f}, one record {2:.1f}".format(
                SHARED_WRITERS, self.rate("spread"), self.rate("shared")
            ),
        ]
        for phase in self.phases:
            lines.append(
                "  CPU seconds in {0}: {1}".format(
                    phase.layout,
                    ", ".join(
                        "{0} {1:.1f}".format(group, seconds)
                        for group, seconds in sorted(phase.cpu.items())
                    ),
                )
            )
        return lines


def compare_layouts(
    url: str,
    uploads: Uploads,
    shared: str,
    own: Sequence[str],
    per_client: int,
    page_size: Optional[int] = WATCHER_PAGE_SIZE,
    tag: str = "",
) -> Comparison:
    """Run :data:`ORDER`'s phases: clients upload to ``shared`` or to ``own``.

    :param own: one record per client (:data:`SHARED_WRITERS` of them).
    :param page_size: the page the watchers ask for (``None``: the default).
    :param tag: prefix of the runs' keys, when several runs share records.
    """
    phases = []
    for number, layout in enumerate(ORDER):
        pids = [shared] * len(own) if layout == "shared" else list(own)
        clients = [
            (pid, "{0}{1}{2}-c{3:02d}".format(tag, layout, number, index))
            for index, pid in enumerate(pids)
        ]
        before = cpu_seconds()
        wall = upload_phase(url, uploads, clients, per_client, LIST_EVERY, page_size)
        after = cpu_seconds()
        used = {group: after[group] - before[group] for group in after}
        phases.append(Phase(layout, wall, used))
    return Comparison(len(own) * per_client, phases)


__all__ = (
    "Comparison",
    "LIST_EVERY",
    "ORDER",
    "Phase",
    "SHARED_WRITERS",
    "Uploads",
    "WATCHER_PAGE_SIZE",
    "check_listing",
    "compare_layouts",
    "cpu_seconds",
    "upload_phase",
)
