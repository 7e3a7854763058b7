#!/usr/bin/env python
"""The files archive (``GET /records/<pid>/files-archive``) through gunicorn.

See ``benchmarks/README.rst``: the archive of a record's large files
against downloading them one by one (``sendfile()``), and the worker's
peak memory from the archive of 10 small files to that of 10,000.
"""

import argparse
import http.client
import io
import os
import struct
import subprocess
import sys
import time
import urllib.parse

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import MIB, Bench, demo_app, demo_server, memory_kib

bench = Bench(
    full=dict(processes=5, values=1, warmups=0, loops=1),
    quick=dict(processes=1, values=1, warmups=0, loops=1),
)
bench.option("--files", type=int, help="number of large files (8)")
bench.option("--size-mib", type=int, help="size of each large file (64)")
bench.option("--many", type=int, help="small files of the memory check (10000)")


def drain(url: str) -> tuple[int, bytes]:
    """GET ``url``; return the bytes read and the last 22 (a zip's end record)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=900)
    connection.request("GET", parts.path)
    response = connection.getresponse()
    assert response.status == 200, (url, response.status)
    buffer, total, tail = bytearray(MIB), 0, b""
    while count := response.readinto(buffer):
        total, tail = total + count, (tail + buffer[max(0, count - 22) : count])[-22:]
    connection.close()
    return total, bytes(tail)


def members(tail: bytes) -> int:
    """The member count a zip's end record states."""
    signature, *_, count, _, _, _ = struct.unpack("<IHHHHIIH", tail)
    assert signature == 0x06054B50, "not a zip end record"
    stated: int = count
    return stated


def attach_small(pid: str, count: int) -> None:
    """Give record ``pid`` ``count`` files of 1 KiB, in this process."""
    from invenio_db import db
    from invenio_pidstore.models import PersistentIdentifier

    from invenio_records_files_ext.api import Record

    block = os.urandom(1024)
    with demo_app(bench.workdir, RECORDS_FILES_PROCESSORS=[]).app_context():
        record_id = PersistentIdentifier.get("recid", pid).object_uuid
        Record.get_record(record_id).files.update(
            (f"small/{i:05d}.bin", io.BytesIO(i.to_bytes(4, "big") + block[4:]))
            for i in range(count)
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def setup(url: str, worker: int, args: argparse.Namespace) -> tuple[list[float], float]:
    """Memory first (before any large transfer), then the large files."""
    answers = [requests.post(url + "/records/", json={}) for _ in range(3)]
    few, many, big = (f"{url}/records/{r.json()['id']}" for r in answers)
    attach_small(few.rsplit("/", 1)[1], 10)
    attach_small(many.rsplit("/", 1)[1], args.many)
    drain(few + "/files-archive")  # the worker's first request
    assert members(drain(few + "/files-archive")[1]) == 10
    peaks = [memory_kib("VmHWM", worker) / 1024]
    size, tail = drain(many + "/files-archive")
    assert args.many >= 0xFFFF or members(tail) == args.many  # else Zip64
    peaks.append(memory_kib("VmHWM", worker) / 1024)
    keys = [f"big-{index:02d}.bin" for index in range(args.files)]
    for key in keys:
        data = os.urandom(args.size_mib * MIB)
        requests.put(f"{big}/files/{key}", data=data).raise_for_status()
    storage = os.path.join(bench.workdir, "storage")
    stored = [os.path.join(d, f) for d, _, names in os.walk(storage) for f in names]
    stored = [path for path in stored if os.path.getsize(path) == len(data)]
    bench.note("setup", url=big, keys=keys, stored=stored)
    drain(big + "/files-archive")  # warm-up: the page cache
    return peaks, size / MIB


def step(loops: int, name: str, size: int) -> float:
    """Read the large files one way; return seconds."""
    setup = bench.notes("setup")[0]
    url, keys = setup["url"], setup["keys"]
    started = time.perf_counter()
    if name == "archive":
        total, tail = drain(url + "/files-archive")
        assert members(tail) == len(keys) and total > len(keys) * size
    elif name == "downloads":
        for key in keys:
            assert drain(f"{url}/files/{key}")[0] == size
    else:
        subprocess.run(["cat", *setup["stored"]], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    """Start gunicorn, measure, print the targets."""
    from invenio_records_files_ext.archives.crc import IMPLEMENTATION

    args, server = bench.parse(), None
    args.files = args.files or (4 if args.quick else 8)
    args.size_mib = args.size_mib or (4 if args.quick else 64)
    args.many = args.many or (1000 if args.quick else 10000)
    if bench.parent:
        server = demo_server(bench.workdir)
    try:
        if bench.parent:
            assert server is not None  # started above, in the parent
            peaks, many_mib = setup(server.url, server.worker_pids()[0], args)
        label, size = f"{args.files} x {args.size_mib} MiB", args.size_mib * MIB
        names = ("archive", "downloads", "cat")
        runs = {
            name: bench.time(f"{name}, {label}", step, name, size) for name in names
        }
        if not bench.parent:
            return
        cat = runs["cat"].median() / runs["archive"].median()
        print(f"archive / cat speed: {cat:.2f}; CRC-32 by {IMPLEMENTATION}")
        speed = "archive / downloads speed"
        bench.ratio(speed, runs["downloads"], runs["archive"], 0.7, True)
        print(f"worker peak RSS: {peaks[0]:.1f} MiB after the archive of 10 files")
        print(f"  {peaks[1]:.1f} MiB after that of {args.many} ({many_mib:.1f} MiB)")
        growth = peaks[1] - peaks[0]
        bench.target(f"worker peak growth to {args.many} files (MiB)", growth, 10)
        bench.finish()
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
