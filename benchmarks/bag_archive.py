#!/usr/bin/env python
"""The BagIt bag (``files-archive?format=bagit``) against the plain files archive.

Both through gunicorn, on the same records: one of large files, where the
bytes dominate, and one of many small files, where the bag's extra work
(a checksum query per page of files, a manifest line per file) weighs
most. The target: the bag at least 0.8 of the plain archive's speed.
"""

import argparse
import http.client
import io
import os
import sys
import time
import urllib.parse
import zipfile
from typing import Any

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import MIB, Bench, demo_app, demo_server

# Several values per process: on a shared machine one request is noise.
bench = Bench(
    full=dict(processes=5, values=3, warmups=1, loops=1),
    quick=dict(processes=1, values=5, warmups=1, loops=1),
)
bench.option("--files", type=int, help="number of large files (8)")
bench.option("--size-mib", type=int, help="size of each large file (64)")
bench.option("--many", type=int, help="small files of the second record (5000)")

FORMATS = {"archive": "", "bag": "?format=bagit"}


def drain(url: str, keep: bool = False) -> tuple[int, bytes]:
    """GET ``url``; return the bytes read (and the body, with ``keep``)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=900)
    connection.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
    response = connection.getresponse()
    assert response.status == 200, (url, response.status)
    buffer, total, body = bytearray(MIB), 0, bytearray()
    while count := response.readinto(buffer):
        total += count
        if keep:
            body += buffer[:count]
    connection.close()
    return total, bytes(body)


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


def setup(url: str, args: argparse.Namespace) -> None:
    """A record of large files, one of many small files; both checked once."""
    answers = [requests.post(url + "/records/", json={}) for _ in range(2)]
    big, many = (f"{url}/records/{r.json()['id']}" for r in answers)
    for index in range(args.files):
        data = os.urandom(args.size_mib * MIB)
        sent = requests.put(f"{big}/files/big-{index:02d}.bin", data=data)
        sent.raise_for_status()
    attach_small(many.rsplit("/", 1)[1], args.many)
    for record, count in ((big, args.files), (many, args.many)):
        _, body = drain(record + "/files-archive?format=bagit", keep=True)
        names = zipfile.ZipFile(io.BytesIO(body)).namelist()
        assert sum("/data/" in name for name in names) == count, record
    # Warm-up, taking turns: the page cache, and the server's first
    # requests of each kind (measured slower by tens of milliseconds).
    for _ in range(3):
        for record in (big, many):
            for query in FORMATS.values():
                drain(record + "/files-archive" + query)
    bench.note("setup", big=big, many=many)


def step(loops: int, which: str, layout: str) -> float:
    """Read one record's archive in one layout; return seconds."""
    url = bench.notes("setup")[0][which] + "/files-archive" + FORMATS[layout]
    started = time.perf_counter()
    for _ in range(loops):
        assert drain(url)[0] > 0
    return time.perf_counter() - started


def main() -> None:
    """Start gunicorn, measure, print the ratios against the floor."""
    args, server = bench.parse(), None
    args.files = args.files or (4 if args.quick else 8)
    args.size_mib = args.size_mib or (4 if args.quick else 64)
    args.many = args.many or (500 if args.quick else 5000)
    if bench.parent:
        server = demo_server(bench.workdir)
    try:
        if bench.parent:
            assert server is not None  # started above, in the parent
            setup(server.url, args)
        labels = {
            "big": f"{args.files} x {args.size_mib} MiB",
            "many": f"{args.many} x 1 KiB",
        }
        runs: dict[tuple[str, str], Any] = {}
        for which, label in labels.items():
            for layout in FORMATS:
                name = f"{layout}, {label}"
                runs[which, layout] = bench.time(name, step, which, layout)
        if not bench.parent:
            return
        for which, label in labels.items():
            speed = f"bag / archive speed, {label}"
            bench.ratio(speed, runs[which, "archive"], runs[which, "bag"], 0.8, True)
        bench.finish()
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    main()
