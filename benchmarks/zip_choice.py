#!/usr/bin/env python
"""Why the zip reader and writer are our own: measured against ``zipfile``.

The standard library's ``zipfile`` is the alternative at hand (it reads
and writes the same format, and writes to unseekable streams). Side by side
in one run:

- **reading a central directory** of ``--members`` tiny members from an
  in-memory archive: peak memory traced (``tracemalloc``, exact, not
  noisy) and time, ``zipfile.ZipFile(...).infolist()`` against
  :func:`~invenio_records_files_ext.archives.zipreader.read_directory`;
- **writing an archive** of ``--files`` members of 64 KiB to a sink that
  cannot seek (what a WSGI body is): ``zipfile.ZipFile(sink, "w")`` with
  stored members against
  :class:`~invenio_records_files_ext.archives.zipwriter.ZipStreamWriter`;
- **a zip bomb** (one member of 64 MiB of zeros, deflated to 64 KiB):
  bytes inflated before refusing it, ``zipfile`` (which has no ratio
  limit: it inflates all) against our reader's
  :class:`~invenio_records_files_ext.archives.zipreader.Limits`.

Times are the best of ``--repeat`` runs; the machine may be shared, so
read the ratios. ``python benchmarks/zip_choice.py`` (about 10 s);
``--quick`` for the smoke run.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from invenio_records_files_ext.archives.zipreader import (
    Limits,
    open_member,
    read_directory,
)
from invenio_records_files_ext.archives.zipwriter import ZipStreamWriter
from invenio_records_files_ext.errors import ContainerError

CHUNK = 64 * 1024


class BytesSource:
    """An archive in memory, read at offsets (the reader's source)."""

    def __init__(self, data: bytes) -> None:
        """Hold ``data``."""
        self.data = data
        self.size = len(data)

    def read_at(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset``."""
        return self.data[offset : offset + length]


class Sink(io.RawIOBase):
    """A write-only stream that cannot seek and keeps only a byte count."""

    def __init__(self) -> None:
        """Start empty."""
        self.count = 0

    def writable(self) -> bool:
        """Say it can be written."""
        return True

    def write(self, data: Any) -> int:
        """Count ``data``."""
        self.count += len(data)
        return len(data)


def best(repeat: int, work: Callable[[], Any]) -> float:
    """Return the shortest of ``repeat`` runs of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def peak(work: Callable[[], Any]) -> tuple[int, Any]:
    """Return the peak traced memory of ``work`` (bytes) and what it returned."""
    tracemalloc.start()
    try:
        result = work()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def many_members(count: int) -> bytes:
    """Return a stored archive of ``count`` one-byte members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        for index in range(count):
            zipped.writestr("data/{0:06d}.csv".format(index), b"x")
    return buffer.getvalue()


def write_ours(files: int, block: bytes) -> int:
    """Write ``files`` members of ``block`` with ours; return the bytes."""
    writer = ZipStreamWriter()
    sink = Sink()
    for index in range(files):
        for piece in writer.member("f{0}.bin".format(index), [block], len(block)):
            sink.write(piece)
    sink.write(writer.finish())
    return sink.count


def write_zipfile(files: int, block: bytes) -> int:
    """Write ``files`` members of ``block`` with ``zipfile``; return the bytes."""
    sink = Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as zipped:
        for index in range(files):
            with zipped.open("f{0}.bin".format(index), "w") as member:
                member.write(block)
    return sink.count


def bomb() -> bytes:
    """Return an archive of one member: 64 MiB of zeros, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("zeros.bin", bytes(64 * 1024 * 1024))
    return buffer.getvalue()


def inflated_by_zipfile(data: bytes) -> int:
    """Return the bytes ``zipfile`` inflates from the bomb's member."""
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zipped, zipped.open("zeros.bin") as fp:
        while piece := fp.read(CHUNK):
            total += len(piece)
    return total


def inflated_by_ours(data: bytes) -> tuple[int, str]:
    """Return the bytes our reader inflates from the bomb, and its refusal."""
    source = BytesSource(data)
    total = 0
    try:
        directory = read_directory(source, Limits())
        for piece in open_member(source, directory.members[0], Limits()):
            total += len(piece)
    except ContainerError as error:
        return total, type(error).__name__
    return total, "accepted"


def main() -> None:
    """Run the three comparisons and print their figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10000)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.members, args.files, args.repeat = 500, 50, 1
    print("load average before: {0:.2f}".format(os.getloadavg()[0]))

    archive = many_members(args.members)
    source = BytesSource(archive)
    limits = Limits(max_members=args.members)
    theirs_mem, listed = peak(lambda: zipfile.ZipFile(io.BytesIO(archive)).infolist())
    ours_mem, directory = peak(lambda: read_directory(source, limits))
    assert [i.filename for i in listed] == [m.name for m in directory.members]
    theirs_t = best(
        args.repeat, lambda: zipfile.ZipFile(io.BytesIO(archive)).infolist()
    )
    ours_t = best(args.repeat, lambda: read_directory(source, limits))
    print("\ncentral directory of {0:,} members".format(args.members))
    print(
        "  zipfile  {0:8.1f} ms  {1:7.0f} bytes/member".format(
            theirs_t * 1000, theirs_mem / args.members
        )
    )
    print(
        "  ours     {0:8.1f} ms  {1:7.0f} bytes/member".format(
            ours_t * 1000, ours_mem / args.members
        )
    )
    print(
        "  zipfile/ours: time {0:.2f}, memory {1:.2f}".format(
            theirs_t / ours_t, theirs_mem / ours_mem
        )
    )

    block = os.urandom(CHUNK)
    assert write_ours(2, block) > 2 * CHUNK
    theirs_w = best(args.repeat, lambda: write_zipfile(args.files, block))
    ours_w = best(args.repeat, lambda: write_ours(args.files, block))
    mib = args.files * CHUNK / 2**20
    print(
        "\nwriting {0:,} members of 64 KiB ({1:.0f} MiB), unseekable".format(
            args.files, mib
        )
    )
    print(
        "  zipfile  {0:8.1f} ms  {1:7.0f} MiB/s".format(theirs_w * 1000, mib / theirs_w)
    )
    print("  ours     {0:8.1f} ms  {1:7.0f} MiB/s".format(ours_w * 1000, mib / ours_w))
    print("  zipfile/ours: time {0:.2f}".format(theirs_w / ours_w))

    if not args.quick:
        data = bomb()
        theirs_b = inflated_by_zipfile(data)
        ours_b, refusal = inflated_by_ours(data)
        print("\na zip bomb: {0:,} bytes deflated to 64 MiB".format(len(data)))
        print("  zipfile  inflated {0:>12,} bytes, accepted".format(theirs_b))
        print("  ours     inflated {0:>12,} bytes, {1}".format(ours_b, refusal))
    print("\nload average after: {0:.2f}".format(os.getloadavg()[0]))


if __name__ == "__main__":
    main()
