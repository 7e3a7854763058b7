#!/usr/bin/env python
"""How to get a long write onto the disk: writeback strategies side by side.

Each contender is the storage's write loop (``copy_stream``: read into
reused buffers, MD5 in a thread) writing a file of ``--size-mib`` several
times in a row (``--rounds``), every copy kept until the value ends, as
uploads are; only how the writes reach the disk differs:

* ``page cache``: nothing flushed (``RECORDS_FILES_FSYNC = False``);
* ``fdatasync at the end``: one flush when the file is written;
* ``sync_file_range``: every window, start writing it back and wait for
  the window before, in the loop, then drop it from the page cache;
* ``fdatasync in a thread``: every window, once the last flush is done,
  ``fdatasync`` in a thread, then drop what it flushed (the storage's
  first design: nothing holds the loop back when the disk is slow);
* ``paced``: the storage's :class:`~invenio_records_files_ext.storage.writeback.Writeback`
  (every window ``sync_file_range`` in a thread, then dropped; the loop
  waits when the disk is ``LAG`` windows behind; one ``fdatasync`` at the
  end).

Printed per contender and round: seconds, CPU seconds of the process,
page cache added. Target: ``paced``'s last round at most 1.10 times its
first (writes in a row do not slow down).
"""

import ctypes
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import MIB, Bench

bench = Bench(
    full=dict(processes=3, values=1, warmups=0, loops=1),
    quick=dict(processes=1, values=1, warmups=0, loops=1),
)
bench.option("--size-mib", type=int, help="size of each file (512)")
bench.option("--rounds", type=int, help="files written in a row per value (4)")
bench.option("--contenders", help="comma-separated (all)")

CONTENDERS = (
    "page cache",
    "fdatasync at the end",
    "sync_file_range",
    "fdatasync in a thread",
    "paced",
)


class EndOnly:
    """One ``fdatasync`` once the file is written."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def advance(self, written: int) -> None:
        pass

    def finish(self) -> None:
        os.fdatasync(self.fd)

    def close(self) -> None:
        pass


class SyncFileRange(EndOnly):
    """``sync_file_range`` every window, waited for in the loop."""

    WRITE, WAIT = 2, 1 | 2 | 4

    def __init__(self, fd: int, window: int) -> None:
        super().__init__(fd)
        self.window, self.started = window, 0
        libc = ctypes.CDLL(None, use_errno=True)
        self.call = libc.sync_file_range
        self.call.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
        self.call.argtypes += [ctypes.c_uint]

    def advance(self, written: int) -> None:
        if written - self.started < self.window:
            return
        self.call(self.fd, self.started, written - self.started, self.WRITE)
        if self.started >= self.window:
            previous = self.started - self.window
            self.call(self.fd, previous, self.window, self.WAIT)
            os.posix_fadvise(self.fd, previous, self.window, os.POSIX_FADV_DONTNEED)
        self.started = written


def fdatasync_windows(fd: int) -> Any:
    """The storage's Writeback as it was first: ``fdatasync`` per window."""
    from invenio_records_files_ext.storage import writeback

    class Flushes(writeback.Writeback):
        def advance(self, written: int) -> None:
            # No waiting for the disk: a flush per window once the last is done.
            running = self._running
            if running is None or running.done():
                super().advance(written)

        def _sync_and_drop(self, upto: int) -> None:
            os.fdatasync(fd)
            start = self.start + self._dropped
            writeback.drop_cached(fd, start, upto - self._dropped)
            self._dropped = upto

    return Flushes(fd)


def pacing(name: str, fd: int) -> Any:
    """The writeback object of contender ``name`` for ``fd``."""
    from invenio_records_files_ext.storage import writeback

    contenders: dict[str, Callable[[], Any]] = {
        "page cache": lambda: None,
        "fdatasync at the end": lambda: EndOnly(fd),
        "sync_file_range": lambda: SyncFileRange(fd, writeback.WINDOW),
        "paced": lambda: writeback.Writeback(fd),
        "fdatasync in a thread": lambda: fdatasync_windows(fd),
    }
    return contenders[name]()


def cached_mib() -> int:
    """The page cache's size (``Cached`` of ``/proc/meminfo``), in MiB."""
    with open("/proc/meminfo") as fp:
        return next(
            int(line.split()[1]) // 1024 for line in fp if line[:7] == "Cached:"
        )


def write_once(name: str, source: str, target: str) -> tuple[float, float, int]:
    """One file through the write loop; return (seconds, CPU seconds, MiB cached)."""
    from invenio_records_files_ext.storage.digests import Digests
    from invenio_records_files_ext.storage.writeloop import copy_stream

    cached, cpu, started = cached_mib(), time.process_time(), time.perf_counter()
    with open(source, "rb") as src, open(target, "wb") as dst:
        writeback = pacing(name, dst.fileno())
        try:
            with Digests({"md5": hashlib.md5()}) as digests:
                copy_stream(src, dst, digests, chunk_size=MIB, writeback=writeback)
        finally:
            if writeback is not None:
                writeback.close()
    seconds = time.perf_counter() - started
    return seconds, time.process_time() - cpu, cached_mib() - cached


def step(loops: int, name: str) -> float:
    """Write the file ``--rounds`` times in a row; note each round."""
    source = os.path.join(bench.workdir, "source.bin")
    rounds = bench.args.rounds or (2 if bench.args.quick else 4)
    os.sync()
    total, copies = 0.0, []
    try:
        for number in range(rounds):
            copies.append(os.path.join(bench.workdir, f"{os.getpid()}-{number}.bin"))
            seconds, cpu, cached = write_once(name, source, copies[-1])
            bench.note(name, round=number + 1, seconds=seconds, cpu=cpu, cached=cached)
            total += seconds
    finally:
        for copy in copies:
            os.remove(copy)
    return total


def main() -> None:
    """Make the source file; time each contender; print the rounds."""
    args = bench.parse()
    size = args.size_mib or (32 if args.quick else 512)
    if bench.parent:
        with open(os.path.join(bench.workdir, "source.bin"), "wb") as fp:
            for _ in range(size):
                fp.write(os.urandom(MIB))
    names = bench.args.contenders.split(",") if bench.args.contenders else CONTENDERS
    for name in names:
        bench.time(f"{name}, {size} MiB x rounds", step, name)
    if not bench.parent:
        return
    for name in names:
        notes = bench.notes(name)
        for number in sorted({note["round"] for note in notes}):
            these = [note for note in notes if note["round"] == number]
            print(
                f"{name}, round {number}: "
                f"{statistics.mean(n['seconds'] for n in these):.3f} s, CPU "
                f"{statistics.mean(n['cpu'] for n in these):.3f} s, page cache "
                f"{statistics.mean(n['cached'] for n in these):+,.0f} MiB"
            )
    paced = bench.notes("paced")
    last = max(note["round"] for note in paced)
    first_s = statistics.mean(n["seconds"] for n in paced if n["round"] == 1)
    last_s = statistics.mean(n["seconds"] for n in paced if n["round"] == last)
    bench.target("paced: last round / first round", last_s / first_s, 1.10)
    bench.finish()


if __name__ == "__main__":
    main()
