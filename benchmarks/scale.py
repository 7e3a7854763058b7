#!/usr/bin/env python
"""Benchmark: does a change to one file cost the same whatever the record holds?

Measured side by side in one run, on one application and one database:

1. one REST upload (100 bytes, Flask's test client) to a record holding N
   files, ``PUT /records/<pid>/files/<key>`` ("ours"), against
   Invenio-Files-REST's own ``PUT /files/<bucket>/<key>`` to a bare bucket
   (linked to no record) holding as many objects ("raw"); rounds
   interleave sizes and contenders, figures are medians;
2. the bytes each upload writes to the record tables;
3. ``Record.get_record()`` plus reading one metadata field, for a record
   with no file and for the largest record;
4. the bulk attach (``record.files.update()``) that builds each record: its
   time and the peak resident memory it adds to its process.

Targets are printed with PASS or FAIL; the exit code does not depend on
them. See ``benchmarks/README.rst``.
"""

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from io import BytesIO

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import (  # noqa: E402
    KIB,
    Database,
    Ratio,
    SQLMeter,
    Targets,
    demo_app,
    median,
    peak_rss_mib,
    rss_mib,
    table,
)

SIZES = (0, 1000, 10000, 100000)
QUICK_SIZES = (0, 100, 1000)
ROUNDS = 150
QUICK_ROUNDS = 5
BODY_SIZE = 100

TARGET_UPLOAD = 1.3
TARGET_BYTES = 4 * KIB
TARGET_GET = 1.5
TARGET_BULK_SCALING = 1.5
TARGET_BULK_RSS_PER_FILE = 2 * KIB

RECORD_TABLES = ("records_metadata", "records_metadata_version", "records_files_entry")
HEADERS = {"Content-Type": "application/octet-stream"}


def open_bare_buckets(*args, **kwargs):
    """Files-REST permission factory of the benchmark: anybody may do anything."""
    from invenio_records_rest.utils import allow_all

    return allow_all()


def body(tag):
    """Return ``BODY_SIZE`` bytes that differ for every tag."""
    seed = "{0}\n".format(tag).encode()
    return (seed * (BODY_SIZE // len(seed) + 1))[:BODY_SIZE]


#
# Building the records (one process each) and the raw buckets
#
def attach_worker(argv):
    """Create a record with N files in one ``files.update()``; print JSON.

    Runs in a process of its own, so that the peak resident memory it
    reports is that of the attach, not of earlier work.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--attach-worker", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--db-uri", required=True)
    parser.add_argument("--schema")
    args = parser.parse_args(argv)
    count = args.attach_worker
    database = Database.existing(args.db_uri, args.schema)
    app = demo_app(args.workdir, database)
    from invenio_db import db
    from invenio_pidstore.minters import recid_minter

    from invenio_records_files_ext.api import Record

    with app.app_context():
        record_id = uuid.uuid4()
        data = {"title": "{0} files".format(count)}
        pid = recid_minter(record_id, data)
        record = Record.create(data, id_=record_id)
        db.session.commit()
        pairs = (
            (
                "f{0:06d}.txt".format(index),
                BytesIO(body("{0}/{1}".format(count, index))),
            )
            for index in range(count)
        )
        gc.collect()
        try:
            # Writing 5 resets the peak (VmHWM) to the current RSS.
            with open("/proc/self/clear_refs", "w") as fp:
                fp.write("5")
        except OSError:
            pass
        before = rss_mib()
        started = time.perf_counter()
        record.files.update(pairs)
        db.session.commit()
        seconds = time.perf_counter() - started
        peak = peak_rss_mib()
        print(
            json.dumps(
                dict(
                    record_id=str(record_id),
                    pid=pid.pid_value,
                    bucket_id=str(record.bucket.id),
                    seconds=seconds,
                    rss_before=before,
                    peak=peak,
                )
            ),
            flush=True,
        )
    return 0


def attach_in_worker(count, workdir, database):
    """Run :func:`attach_worker` in a new process; return what it printed."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--attach-worker",
        str(count),
        "--workdir",
        workdir,
        "--db-uri",
        database.uri,
    ]
    if database.schema:
        command += ["--schema", database.schema]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("attach worker failed:\n" + done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def empty_record():
    """Create a record with a bucket and no file; return its ids."""
    from invenio_db import db
    from invenio_pidstore.minters import recid_minter

    from invenio_records_files_ext.api import Record

    record_id = uuid.uuid4()
    data = {"title": "no files"}
    pid = recid_minter(record_id, data)
    record = Record.create(data, id_=record_id)
    db.session.commit()
    return dict(
        record_id=str(record_id), pid=pid.pid_value, bucket_id=str(record.bucket.id)
    )


def raw_bucket(count, storage):
    """Create a bare bucket holding ``count`` objects (core inserts, no bytes)."""
    from invenio_db import db
    from invenio_files_rest.models import Bucket, FileInstance, ObjectVersion
    from sqlalchemy import insert, update

    bucket = Bucket.create()
    db.session.commit()
    now = datetime.now(tz=timezone.utc)
    for start in range(0, count, 1000):
        files, objects = [], []
        for index in range(start, min(start + 1000, count)):
            file_id = uuid.uuid4()
            files.append(
                dict(
                    id=file_id,
                    uri=os.path.join(storage, "raw", str(file_id)),
                    storage_class="S",
                    size=BODY_SIZE,
                    checksum="md5:" + "0" * 32,
                    readable=True,
                    writable=False,
                    last_check=True,
                    created=now,
                    updated=now,
                )
            )
            objects.append(
                dict(
                    version_id=uuid.uuid4(),
                    key="f{0:06d}.txt".format(index),
                    bucket_id=bucket.id,
                    file_id=file_id,
                    is_head=True,
                    created=now,
                    updated=now,
                )
            )
        db.session.execute(insert(FileInstance), files)
        db.session.execute(insert(ObjectVersion), objects)
    db.session.execute(
        update(Bucket).where(Bucket.id == bucket.id).values(size=count * BODY_SIZE)
    )
    db.session.commit()
    return str(bucket.id)


#
# Timed parts
#
def upload(client, meter, url, tag):
    """PUT one body; return seconds, statements and bytes to record tables."""
    data = body(tag)
    with meter:
        started = time.perf_counter()
        response = client.put(url, data=data, headers=HEADERS)
        seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(
            "PUT {0}: {1} {2}".format(url, response.status, response.data)
        )
    return seconds, meter.statements, meter.bytes_written


def time_uploads(app, meter, sizes, records, buckets, rounds, log):
    """Upload in interleaved rounds; return ``{(contender, size): [runs]}``."""
    client = app.test_client()
    urls = {}
    for size in sizes:
        urls["ours", size] = "/records/{0}/files/{{0}}".format(records[size]["pid"])
        urls["raw", size] = "/files/{0}/{{0}}".format(buckets[size])
    runs = {key: [] for key in urls}
    for warm in range(3):
        for key, url in urls.items():
            upload(client, meter, url.format("warm-{0}".format(warm)), key)
    order = list(urls)
    for number in range(rounds):
        # Rotate the order so that no contender or size always runs first.
        shift = number % len(order)
        for contender, size in order[shift:] + order[:shift]:
            url = urls[contender, size].format("up-{0:04d}.txt".format(number))
            runs[contender, size].append(
                upload(client, meter, url, (contender, size, number))
            )
        if (number + 1) % 10 == 0:
            log("upload round {0}/{1}".format(number + 1, rounds))
    return runs


def time_get_record(app, records, sizes, rounds):
    """Time ``Record.get_record`` + one field, for the smallest and largest."""
    from invenio_db import db

    from invenio_records_files_ext.api import Record

    small, large = min(sizes), max(sizes)
    times = {small: [], large: []}
    with app.app_context():
        for number in range(rounds * 5 + 3):
            for size in (small, large) if number % 2 else (large, small):
                db.session.remove()
                started = time.perf_counter()
                record = Record.get_record(records[size]["record_id"])
                title = record["title"]
                seconds = time.perf_counter() - started
                assert title
                if number >= 3:
                    times[size].append(seconds)
        db.session.remove()
    return times


def check(app, sizes, records, rounds):
    """Each record holds what it should (files attached + uploaded)."""
    from invenio_records_files_ext.api import Record

    with app.app_context():
        for size in sizes:
            record = Record.get_record(records[size]["record_id"])
            found = len(record.files)
            expected = size + rounds + 3
            if found != expected:
                raise RuntimeError(
                    "record of {0}: {1} files, {2} expected".format(
                        size, found, expected
                    )
                )


#
# Report
#
def report(options, database, uploads, gets, bulk):
    """Return the report lines."""
    sizes = options.sizes
    targets = Targets()
    out = [
        "invenio-records-files-ext: records with many files (benchmarks/scale.py)",
        "  database: {0}; {1}-byte uploads through Flask's test client; {2} "
        "interleaved rounds; medians".format(
            database.description, BODY_SIZE, options.rounds
        ),
        "",
        "1. One REST upload to a record holding N files: ours = PUT "
        "/records/<pid>/files/<key>,",
        "   raw = Invenio-Files-REST's PUT /files/<bucket>/<key> to a bare bucket "
        "holding N objects",
    ]
    rows = [
        [
            "N",
            "ours ms",
            "raw ms",
            "ours/raw [quartiles]",
            "<= {0}".format(TARGET_UPLOAD),
            "statements ours",
            "raw",
        ]
    ]
    for size in sizes:
        ours, raw = uploads["ours", size], uploads["raw", size]
        ratio = Ratio.of(
            [run[0] for run in ours], [run[0] for run in raw], quartiles=True
        )
        rows.append(
            [
                "{0:,}".format(size),
                "{0:.2f}".format(median([run[0] for run in ours]) * 1000),
                "{0:.2f}".format(median([run[0] for run in raw]) * 1000),
                str(ratio),
                targets.check(
                    "upload ours/raw at {0:,}".format(size),
                    ratio.value <= TARGET_UPLOAD,
                ),
                "{0:g}".format(median([run[1] for run in ours])),
                "{0:g}".format(median([run[1] for run in raw])),
            ]
        )
    out += table(rows)
    out += [
        "   (raw runs in the same application, so it pays this library's hooks on "
        "Invenio-Files-REST's",
        "   routes and session: they find its bucket linked to no record)",
        "",
        "2. Bytes written to the record tables per upload (ours): sum of the sizes "
        "of the bound",
        "   values of every INSERT and UPDATE on {0},".format(", ".join(RECORD_TABLES)),
        "   captured with a before_cursor_execute listener (text and binary by "
        "length, numbers 8 B)",
    ]
    rows = [["N", "median B", "max B", "<= {0} B".format(TARGET_BYTES)]]
    for size in sizes:
        written = [run[2] for run in uploads["ours", size]]
        rows.append(
            [
                "{0:,}".format(size),
                "{0:g}".format(median(written)),
                max(written),
                targets.check(
                    "bytes per upload at {0:,}".format(size),
                    max(written) <= TARGET_BYTES,
                ),
            ]
        )
    out += table(rows)
    small, large = min(sizes), max(sizes)
    ratio = Ratio.of(gets[large], gets[small], quartiles=True)
    out += [
        "",
        "3. Record.get_record(id) and reading one metadata field",
    ]
    out += table(
        [
            ["N", "ms"],
            ["{0:,}".format(small), "{0:.3f}".format(median(gets[small]) * 1000)],
            ["{0:,}".format(large), "{0:.3f}".format(median(gets[large]) * 1000)],
        ]
    )
    out.append(
        "   {0:,} / {1:,} files: {2}   target <= {3}: {4}".format(
            large,
            small,
            ratio,
            TARGET_GET,
            targets.check(
                "get_record {0:,}/{1:,}".format(large, small), ratio.value <= TARGET_GET
            ),
        )
    )
    out += [
        "",
        "4. Bulk attach: record.files.update() of N files of {0} B, then commit, "
        "each in a new process;".format(BODY_SIZE),
        "   peak RSS added = VmHWM after the call minus VmRSS just before it "
        "(the input generator included)",
    ]
    rows = [["N", "seconds", "ms/file", "RSS before MiB", "peak added MiB", "KiB/file"]]
    counts = sorted(bulk)
    for count in counts:
        done = bulk[count]
        added = done["peak"] - done["rss_before"]
        rows.append(
            [
                "{0:,}".format(count),
                "{0:.2f}".format(done["seconds"]),
                "{0:.3f}".format(done["seconds"] * 1000 / count),
                "{0:.1f}".format(done["rss_before"]),
                "{0:.1f}".format(added),
                "{0:.2f}".format(added * 1024 / count),
            ]
        )
    out += table(rows)
    first, last = counts[0], counts[-1]
    per_file = {count: bulk[count]["seconds"] / count for count in counts}
    scaling = per_file[last] / per_file[first]
    out.append(
        "   time per file at {0:,} / at {1:,}: {2:.2f}   target <= {3}: {4}".format(
            last,
            first,
            scaling,
            TARGET_BULK_SCALING,
            targets.check("bulk time per file", scaling <= TARGET_BULK_SCALING),
        )
    )
    added = (bulk[last]["peak"] - bulk[last]["rss_before"]) * 1024 * KIB / last
    out.append(
        "   peak RSS added per file at {0:,}: {1:.0f} B   target <= {2} B: {3}".format(
            last,
            added,
            TARGET_BULK_RSS_PER_FILE,
            targets.check("bulk memory per file", added <= TARGET_BULK_RSS_PER_FILE),
        )
    )
    out += ["", targets.summary()]
    return out


def parse_args(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(sorted(int(part) for part in text.split(","))),
        help="numbers of files held (default: 0,1000,10000,100000)",
    )
    parser.add_argument("--rounds", type=int, help="uploads per contender and size")
    parser.add_argument(
        "--db-uri",
        help="database (default: SQLite in a temporary folder); on PostgreSQL "
        "the tables go into a new schema, dropped at the end",
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes 0,100,1000 and 5 rounds (CI)"
    )
    options = parser.parse_args(argv)
    options.sizes = options.sizes or (QUICK_SIZES if options.quick else SIZES)
    options.rounds = options.rounds or (QUICK_ROUNDS if options.quick else ROUNDS)
    if len(options.sizes) < 2 or options.sizes[0] != 0:
        parser.error("--sizes needs 0 and at least one other size")
    return options


def main(argv=None):
    """Run the benchmark and print the report."""
    argv = sys.argv[1:] if argv is None else argv
    if "--attach-worker" in argv:
        return attach_worker(argv)
    options = parse_args(argv)
    started = time.perf_counter()

    def log(message):
        print(
            "[scale {0:6.1f} s] {1}".format(time.perf_counter() - started, message),
            file=sys.stderr,
            flush=True,
        )

    workdir = tempfile.mkdtemp(prefix="rfx-scale-")
    database = None
    try:
        database = Database(options.db_uri, workdir)
        # The demo keeps buckets no record owns closed; raw needs them open.
        app = demo_app(
            workdir,
            database,
            files_rest_routes=True,
            config={"FILES_REST_PERMISSION_FACTORY": open_bare_buckets},
        )
        from invenio_db import db

        records, buckets, bulk = {}, {}, {}
        for size in options.sizes:
            if size:
                log("attaching {0:,} files in a new process".format(size))
                records[size] = bulk[size] = attach_in_worker(size, workdir, database)
        with app.app_context():
            records[0] = empty_record()
            for size in options.sizes:
                log("raw bucket of {0:,} objects".format(size))
                buckets[size] = raw_bucket(size, os.path.join(workdir, "storage"))
            meter = SQLMeter(db.engine, RECORD_TABLES)
            db.session.remove()
        uploads = time_uploads(
            app, meter, options.sizes, records, buckets, options.rounds, log
        )
        log("get_record")
        gets = time_get_record(app, records, options.sizes, options.rounds)
        check(app, options.sizes, records, options.rounds)
        print("\n".join(report(options, database, uploads, gets, bulk)))
        log("done")
    finally:
        if database is not None:
            database.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
