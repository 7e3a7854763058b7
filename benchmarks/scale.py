#!/usr/bin/env python
"""Does a change to one file cost the same whatever the record holds?

See ``benchmarks/README.rst``. Each bulk attach builds a record of N files
and a bare bucket of N objects, used by the uploads and reads after it.
"""

import gc
import os
import sys
import time
import uuid
from io import BytesIO

from flask import Flask

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import KIB, Bench, demo_app, memory_kib, reset_peak

bench = Bench(
    full=dict(processes=4, values=5, warmups=1, loops=10),
    quick=dict(processes=1, values=3, warmups=1, loops=3),
)
bench.option("--sizes", help="files held, 0 first (0,1000,10000,100000)")
_apps: list[Flask] = []


def app() -> Flask:
    """The demo application of this process; bare buckets open to anybody."""
    from invenio_records_rest.utils import allow_all

    permission = lambda *args, **kwargs: allow_all()  # noqa: E731
    _apps[:] = _apps or [
        demo_app(bench.workdir, FILES_REST_PERMISSION_FACTORY=permission)
    ]
    return _apps[0]


def build(loops: int, count: int) -> float:
    """Time the bulk attach of ``count`` files of 100 B to a new record;
    note the memory it added, the record and a bare bucket of as many objects."""
    from invenio_db import db
    from invenio_files_rest.models import Bucket, FileInstance, ObjectVersion
    from invenio_pidstore.minters import recid_minter
    from sqlalchemy import insert

    from invenio_records_files_ext.api import Record

    with app().app_context():
        record_id, data = uuid.uuid4(), {"title": "bench"}
        pid = recid_minter(record_id, data).pid_value
        record = Record.create(data, id_=record_id)
        db.session.commit()
        files = ((f"f{i:06d}", BytesIO(b"%99d\n" % i)) for i in range(count))
        gc.collect()
        reset_peak()
        before = memory_kib()
        started = time.perf_counter()
        stored = record.files
        assert stored is not None  # a new record has a bucket
        stored.update(files)
        db.session.commit()
        seconds = time.perf_counter() - started
        added = memory_kib("VmHWM") - before
        bucket = Bucket.create().id
        for start in range(0, count, 1000):
            ids = [uuid.uuid4() for _ in range(start, min(count, start + 1000))]
            rows = [dict(id=i, uri=f"/nowhere/{i}", size=100) for i in ids]
            db.session.execute(insert(FileInstance), rows)
            keys = [
                dict(bucket_id=bucket, key=f"f{start + n:06d}", file_id=i)
                for n, i in enumerate(ids)
            ]
            db.session.execute(insert(ObjectVersion), keys)
        db.session.commit()
    bench.note(
        f"build {count}",
        record=str(record_id),
        pid=pid,
        bucket=str(bucket),
        added_kib=added,
    )
    return seconds


def upload(loops: int, contender: str, count: int) -> float:
    """PUT ``loops`` new files of 100 B with Flask's test client."""
    built = bench.notes(f"build {count}")[0]
    url = "/records/{pid}/files/" if contender == "ours" else "/files/{bucket}/"
    client, total = app().test_client(), 0.0
    for _ in range(loops):
        key = uuid.uuid4().hex
        started = time.perf_counter()
        response = client.put(url.format(**built) + key, data=b"%99s\n" % key.encode())
        total += time.perf_counter() - started
        assert response.status_code == 200, response.data
    return total


def get_record(loops: int, count: int) -> float:
    """``Record.get_record()`` and one metadata field, in a new session."""
    from invenio_db import db

    from invenio_records_files_ext.api import Record

    record_id, total = bench.notes(f"build {count}")[0]["record"], 0.0
    with app().app_context():
        for _ in range(loops):
            db.session.remove()
            started = time.perf_counter()
            assert Record.get_record(record_id)["title"]
            total += time.perf_counter() - started
    return total


def main() -> None:
    """Run the benchmarks; print the targets."""
    args = bench.parse()
    default = "0,100" if args.quick else "0,1000,10000,100000"
    sizes = [int(size) for size in (args.sizes or default).split(",")]
    if bench.parent:
        build(1, 0)
    once = dict(processes=1, values=1, warmups=0, loops=1)
    bulk = {n: bench.time(f"bulk attach {n:,}", build, n, **once) for n in sizes[1:]}
    uploads = {}
    for n in sizes:
        for who in ("ours", "raw"):
            uploads[who, n] = bench.time(f"upload {who} {n:,}", upload, who, n)
    small, large = sizes[1], sizes[-1]
    gets = {
        n: bench.time(f"get_record {n:,}", get_record, n, loops=50) for n in (0, large)
    }
    if not bench.parent:
        return
    for n in sizes:
        bench.ratio(
            f"upload ours/raw at {n:,}", uploads["ours", n], uploads["raw", n], 1.3
        )
    bench.ratio(f"get_record {large:,}/0", gets[large], gets[0], 1.5)
    per_file = {n: bulk[n].median() / n for n in (small, large)}
    ratio = per_file[large] / per_file[small]
    bench.target(f"bulk attach time per file {large:,}/{small:,}", ratio, 1.5)
    added = bench.notes(f"build {large}")[0]["added_kib"] * KIB / large
    bench.target(
        f"bulk attach peak memory added per file at {large:,} (B)", added, 2 * KIB
    )
    bench.finish()


if __name__ == "__main__":
    main()
