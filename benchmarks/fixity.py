#!/usr/bin/env python
"""The fixity audit: two workers against one, on the same files.

The demo application on a SQLite file (or ``--database-uri``, PostgreSQL,
whose tables are emptied) holds one record of ``--files`` files of
``--size-kib``. For each value, every file is made due (stored 40 days
ago, never checked), then ``1`` or ``2`` audit workers (processes of
their own, the application made before the clock starts) run
:func:`~invenio_records_files_ext.maintenance.fixity.run_audit` until
nothing is due, in batches of ``--batch``: what a Celery worker's
``check_fixity`` task does. Timed: from the start signal until the last
worker ends. Each value checks that every file was checked exactly once
(the workers' counts add up to ``--files``, no result dropped).

Printed: both contenders, the speed-up (one worker's time / two workers'),
target **>= 1.3** (the machine's two cores; claims are short transactions,
reading and hashing happen outside them), the workers' peak resident
memory, and the load average before and after each contender.
"""

import io
import multiprocessing
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from flask import Flask

from benchmarks.common import KIB, Bench, demo_app, memory_kib

CONTENDERS = (1, 2)


def _app(workdir: str, uri: "str | None") -> Flask:
    config: dict[str, Any] = dict(RECORDS_FILES_PROCESSORS=[])
    if uri:
        config["SQLALCHEMY_DATABASE_URI"] = uri
    return demo_app(workdir, **config)


def setup(workdir: str, uri: "str | None", files: int, size: int) -> None:
    """Empty the database (PostgreSQL), store one record of ``files`` files."""
    from invenio_db import db
    from invenio_files_rest.models import Location

    from invenio_records_files_ext.api import Record
    from tests.helpers import clear_tables

    app = _app(workdir, uri)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            clear_tables()
            os.makedirs(app.config["FILES_STORAGE_PATH"], exist_ok=True)
            db.session.add(
                Location(
                    name="default", uri=app.config["FILES_STORAGE_PATH"], default=True
                )
            )
            db.session.commit()
        block = os.urandom(size)
        record = Record.create({"title": "fixity benchmark"})
        stored = record.files
        assert stored is not None  # a new record has a bucket
        stored.update(
            (f"f{index:06d}.bin", io.BytesIO(index.to_bytes(4, "big") + block[4:]))
            for index in range(files)
        )
        record.commit()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def make_due(app: Flask) -> None:
    """Make every file due: stored 40 days ago, never checked."""
    from datetime import datetime, timedelta, timezone

    from invenio_db import db
    from invenio_files_rest.models import FileInstance
    from sqlalchemy import update

    with app.app_context():
        then = datetime.now(tz=timezone.utc) - timedelta(days=40)
        db.session.execute(
            update(FileInstance).values(
                created=then, last_check_at=None, last_check=True
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def audit_worker(
    workdir: str, uri: "str | None", batch: int, ready: Any, start: Any, results: Any
) -> None:
    """One audit worker: make the application, wait for the start, audit."""
    from invenio_db import db

    from invenio_records_files_ext.maintenance.fixity import run_audit

    app = _app(workdir, uri)
    with app.app_context():
        db.session.execute(db.select(1))  # connect before the clock starts
        db.session.rollback()
        ready.set()
        start.wait()
        summary = run_audit(batch=batch)
        results.put(dict(vars(summary), peak_kib=memory_kib("VmHWM")))
        db.session.remove()
        db.engine.dispose()


def step(loops: int, bench: Bench, workers: int) -> float:
    """Audit every file with ``workers`` processes; return seconds."""
    args = bench.args
    make_due(_app(bench.workdir, args.database_uri))
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    readies: list[Any] = []
    processes: list[Any] = []
    for _ in range(workers):
        ready = context.Event()
        process = context.Process(
            target=audit_worker,
            args=(bench.workdir, args.database_uri, args.batch, ready, start, results),
        )
        process.start()
        readies.append(ready)
        processes.append(process)
    for ready in readies:
        assert ready.wait(120), "an audit worker did not start"
    started = time.perf_counter()
    start.set()
    done = [results.get(timeout=3600) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    checked = sum(summary["checked"] for summary in done)
    assert checked == args.files, (checked, done)
    assert sum(summary["lost"] for summary in done) == 0, done
    bench.note(
        f"workers-{workers}",
        checked=[summary["checked"] for summary in done],
        peak_kib=max(summary["peak_kib"] for summary in done),
    )
    return elapsed


def main() -> None:
    """Set up, time one and two workers, print the speed-up."""
    bench = Bench(
        full=dict(processes=3, values=1, warmups=0, loops=1),
        quick=dict(processes=1, values=1, warmups=0, loops=1),
    )
    bench.option("--files", type=int, help="files of the record (1000)")
    bench.option("--size-kib", type=int, help="size of each file (512)")
    bench.option("--batch", type=int, help="files per claim (20)")
    bench.option("--database-uri", help="database (default: SQLite in the work dir)")
    args = bench.parse()
    args.files = args.files or (60 if args.quick else 1000)
    args.size_kib = args.size_kib or (64 if args.quick else 512)
    args.batch = args.batch or (5 if args.quick else 20)
    if bench.parent:
        setup(bench.workdir, args.database_uri, args.files, args.size_kib * KIB)
    label = f"{args.files} x {args.size_kib} KiB, batch {args.batch}"
    runs = {
        workers: bench.time(f"{workers} worker(s), {label}", step, bench, workers)
        for workers in CONTENDERS
    }
    if not bench.parent:
        return
    database = "PostgreSQL" if args.database_uri else "SQLite"
    for workers in CONTENDERS:
        notes = bench.notes(f"workers-{workers}")
        shares = "; ".join(",".join(map(str, note["checked"])) for note in notes)
        peak = max(note["peak_kib"] for note in notes) / 1024
        print(
            f"{workers} worker(s) on {database}: files checked per worker {shares}; "
            f"peak RSS {peak:.1f} MiB"
        )
    bench.ratio("speed-up, two workers / one", runs[1], runs[2], 1.3, True)
    bench.finish()


if __name__ == "__main__":
    main()
