"""The files archive (``GET /records/<pid>/files-archive``) through gunicorn.

Measured side by side in one run, against one gunicorn worker on loopback:

* **Throughput.** A record holding ``--files`` files of ``--size-mib`` MiB
  each: the archive of all of them, against downloading the same files one
  after the other through ``GET /records/<pid>/files/<key>`` (the fast
  path: ``sendfile()``), and against a plain ``cat`` of the stored files.
  Target: archive / downloads >= 0.70.
* **Memory.** The worker's peak resident memory (``VmHWM``) after the
  archive of a record of 10 small files, then of one of ``--many`` small
  files (10,000 by default): the archive is streamed, so the peak must not
  grow with the number of files. Target: growth < 10 MiB.

Every archive is checked (member count and sizes) as it is read.

Usage::

    python benchmarks/archive.py              # 8 x 64 MiB, 10 vs 10,000 files, 5 rounds
    python benchmarks/archive.py --quick      # CI smoke run (4 x 4 MiB, 10 vs 1,000)
"""

import argparse
import http.client
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from statistics import median  # noqa: E402

from benchmarks.rest_throughput import (  # noqa: E402
    MIB,
    Server,
    _make_file,
    _put_file,
)
from invenio_records_files_ext import crc  # noqa: E402

RSS_GROWTH_TARGET_MIB = 10
RATIO_TARGET = 0.7


def drain(url):
    """GET ``url``, reading into one buffer; return (seconds, bytes, tail).

    The tail (last 22 bytes) lets the caller check a zip's end record.
    """
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=900)
    buffer = bytearray(MIB)
    view = memoryview(buffer)
    total = 0
    tail = b""
    start = time.perf_counter()
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError("GET {0}: {1}".format(url, response.status))
        while True:
            count = response.readinto(view)
            if not count:
                break
            total += count
            tail = (tail + bytes(view[:count]))[-22:]
    finally:
        connection.close()
    return time.perf_counter() - start, total, tail


def zip_members(tail):
    """Return the member count an archive's end record states."""
    signature, _, _, _, count, _, _, _ = struct.unpack("<IHHHHIIH", tail)
    assert signature == 0x06054B50, "not a zip end record"
    return count


def create_record(server, title):
    response = requests.post(server.url + "/records/", json={"title": title})
    response.raise_for_status()
    return response.json()["id"]


def add_small_files(workdir, pid, count):
    """Attach ``count`` files of 1 KiB to record ``pid``, in this process."""
    os.environ.setdefault("DEMO_INSTANCE_PATH", os.path.join(workdir, "instance"))
    from invenio_db import db
    from invenio_pidstore.models import PersistentIdentifier

    from examples.app import create_app
    from invenio_records_files_ext.api import Record

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ["SQLALCHEMY_DATABASE_URI"],
            "FILES_STORAGE_PATH": os.path.join(workdir, "storage"),
            "RECORDS_FILES_PROCESSORS": [],
        },
        instance_path=os.path.join(workdir, "instance"),
    )
    import io

    with app.app_context():
        record_id = PersistentIdentifier.get("recid", pid).object_uuid
        record = Record.get_record(record_id)
        block = os.urandom(1024)
        record.files.update(
            (
                "small/{0:05d}.bin".format(index),
                io.BytesIO(index.to_bytes(4, "big") + block[4:]),
            )
            for index in range(count)
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def run(args, workdir):
    """Measure; return the report's figures."""
    os.environ["SQLALCHEMY_DATABASE_URI"] = args.db_uri or "sqlite:///" + os.path.join(
        workdir, "bench.db"
    )
    server = Server(workdir, os.environ["SQLALCHEMY_DATABASE_URI"])
    server.workdir = workdir
    figures = {}
    try:
        # Memory first, before any large transfer raises the peak.
        few = create_record(server, "few")
        many = create_record(server, "many")
        add_small_files(workdir, few, 10)
        add_small_files(workdir, many, args.many)
        few_url = "{0}/records/{1}/files-archive".format(server.url, few)
        many_url = "{0}/records/{1}/files-archive".format(server.url, many)
        drain(few_url)  # warm-up: first request of the worker
        _, _, tail = drain(few_url)
        assert zip_members(tail) == 10
        figures["rss_few"] = (server.peak_rss_mib(), server.rss_mib())
        seconds, size, tail = drain(many_url)
        members = zip_members(tail) if args.many < 0xFFFF else args.many
        assert members == args.many, members
        figures["many_seconds"] = seconds
        figures["many_bytes"] = size
        figures["rss_many"] = (server.peak_rss_mib(), server.rss_mib())

        # Throughput: large files.
        big = create_record(server, "big")
        source = os.path.join(workdir, "source.bin")
        paths = []
        for index in range(args.files):
            _make_file(source, args.size_mib * MIB)
            key = "big-{0:02d}.bin".format(index)
            _put_file("{0}/records/{1}/files/{2}".format(server.url, big, key), source)
            paths.append(key)
        os.remove(source)
        total = args.files * args.size_mib * MIB
        stored = [
            os.path.join(folder, name)
            for folder, _, names in os.walk(os.path.join(workdir, "storage"))
            for name in names
            if os.path.getsize(os.path.join(folder, name)) == args.size_mib * MIB
        ]
        archive_url = "{0}/records/{1}/files-archive".format(server.url, big)
        drain(archive_url)  # warm-up, page cache
        times = {"archive": [], "downloads": [], "cat": []}
        for _ in range(args.rounds):
            seconds, size, tail = drain(archive_url)
            assert zip_members(tail) == args.files and size > total
            times["archive"].append(seconds)
            start = time.perf_counter()
            for key in paths:
                _, got, _ = drain(
                    "{0}/records/{1}/files/{2}".format(server.url, big, key)
                )
                assert got == args.size_mib * MIB
            times["downloads"].append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(["cat"] + stored, check=True, stdout=subprocess.DEVNULL)
            times["cat"].append(time.perf_counter() - start)
        figures["times"] = times
        figures["total"] = total
    finally:
        server.stop()
    return figures


def report(args, figures):
    """Print the figures and ratios."""
    total_mib = figures["total"] / MIB
    targets = _Targets()
    print(
        "Files archive: {0} x {1} MiB files, {2} round(s), medians".format(
            args.files, args.size_mib, args.rounds
        )
    )
    rates = {
        name: total_mib / median(values) for name, values in figures["times"].items()
    }
    labels = {
        "archive": "GET files-archive (one zip)",
        "downloads": "GET each file (sendfile)",
        "cat": "cat of the stored files",
    }
    for name, label in labels.items():
        print(
            "  {0:<32} {1:>8.0f} MiB/s  ({2})".format(
                label,
                rates[name],
                " ".join("{0:.2f}s".format(t) for t in figures["times"][name]),
            )
        )
    # Each round times both side by side: the median of the rounds' ratios
    # is steadier than the ratio of medians on a shared machine.
    ratio = median(
        [
            downloads / archive
            for archive, downloads in zip(
                figures["times"]["archive"], figures["times"]["downloads"]
            )
        ]
    )
    print(
        "  archive / downloads (median of rounds): {0:.2f}   target >= {1:.2f}: "
        "{2}".format(
            ratio,
            RATIO_TARGET,
            targets.check("archive / downloads", ratio >= RATIO_TARGET),
        )
    )
    print("  CRC-32 by: {0}".format(crc.IMPLEMENTATION))
    print(
        "  archive / cat:                   {0:.2f}".format(
            rates["archive"] / rates["cat"]
        )
    )
    few_peak, few_now = figures["rss_few"]
    many_peak, many_now = figures["rss_many"]
    growth = many_peak - few_peak
    print("Worker memory (VmHWM peak / VmRSS now), MiB:")
    print(
        "  after the archive of 10 files:       {0:6.1f} / {1:6.1f}".format(
            few_peak, few_now
        )
    )
    print(
        "  after the archive of {0:>6} files:   {1:6.1f} / {2:6.1f}   "
        "({3:.1f} s, {4:.1f} MiB)".format(
            args.many,
            many_peak,
            many_now,
            figures["many_seconds"],
            figures["many_bytes"] / MIB,
        )
    )
    print(
        "  peak growth:                          {0:6.1f}   target < {1}: {2}".format(
            growth,
            RSS_GROWTH_TARGET_MIB,
            targets.check("worker peak growth", growth < RSS_GROWTH_TARGET_MIB),
        )
    )
    print(targets.summary())


class _Targets:
    """The verdicts of a run, summed up on its last line."""

    def __init__(self):
        self.results = []

    def check(self, name, ok):
        self.results.append((name, ok))
        return "PASS" if ok else "FAIL"

    def summary(self):
        failed = [name for name, ok in self.results if not ok]
        return "Summary: {0} of {1} targets FAIL".format(len(failed), len(self.results))


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--many", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--db-uri", default=None, help="an empty database")
    parser.add_argument("--quick", action="store_true", help="CI smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.size_mib, args.many, args.rounds = 4, 4, 1000, 1
    workdir = tempfile.mkdtemp(prefix="rfx-archive-", dir=args.workdir)
    try:
        report(args, run(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
