#!/usr/bin/env python
"""Benchmark: attaching many small files to a record, side by side.

Contenders, each kind in a process of its own (so that no contender pays
for another one's session listeners, and the original module's model,
which shares its table name with ours, never meets ours in one process):

``raw``
    Invenio-Files-REST alone: ``ObjectVersion.create(bucket, key,
    stream=...)`` on a fresh bucket. The floor.
``ours``
    ``record.files[key] = stream`` on a fresh
    :class:`invenio_records_files_ext.api.Record`.
``bulk``
    ``record.files.update({key: stream, ...})``: one call for all files.
``original``
    ``invenio_records_files.api.Record``, ``record.files[key] = stream``
    and ``record.commit()``; only when the interpreter running this script
    can import ``invenio_records_files`` (never a dependency of this
    project).

Runs are interleaved and repeated; medians and ratios are printed with
PASS or FAIL. See ``benchmarks/README.rst``.
"""

import argparse
import gc
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from io import BytesIO

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import (  # noqa: E402
    Database,
    Ratio,
    SQLMeter,
    Targets,
    Worker,
    WorkerError,
    median,
    serve,
    table,
)

SIZES, REPEAT, BULK, COMMIT_EACH = (100, 400, 1600), 5, 1600, (100, 400)
QUICK_SIZES, QUICK_BULK, QUICK_COMMIT_EACH = (20, 60), 100, (20,)
FILE_SIZE = 1024
TARGET_OURS_RAW = 1.3
TARGET_BULK_SPEEDUP = 3.0

TX, EACH = "one transaction", "commit each"
CONTENDERS = {"raw": ("raw",), "ours": ("ours", "bulk"), "original": ("original",)}
"""Contenders run by each kind of worker process."""

RECORD_PACKAGES = {
    "ours": "invenio_records_files_ext",
    "original": "invenio_records_files",
}


#
# Worker side
#
def payloads(tag, count):
    """Return ``count`` ``(key, bytes)`` pairs of distinct content."""
    pairs = []
    for index in range(count):
        seed = "{0}/{1}\n".format(tag, index).encode()
        pairs.append(
            (
                "file-{0:05d}.txt".format(index),
                (seed * (FILE_SIZE // len(seed) + 1))[:FILE_SIZE],
            )
        )
    return pairs


def _sqlite_helper(kind):
    """Return ``enable_sqlite_savepoints`` without importing the package.

    Importing the package registers this library's session listeners,
    which the ``raw`` and ``original`` contenders must not pay for.
    """
    if kind == "ours":
        from invenio_records_files_ext.sqlite import enable_sqlite_savepoints

        return enable_sqlite_savepoints
    spec = importlib.util.find_spec("invenio_records_files_ext")
    path = os.path.join(spec.submodule_search_locations[0], "sqlite.py")
    module_spec = importlib.util.spec_from_file_location("_rfx_bench_sqlite", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.enable_sqlite_savepoints


def make_app(kind, database):
    """Build the smallest application a worker of ``kind`` needs.

    Models are imported explicitly instead of through the entry points:
    with the original module installed both packages declare
    ``records_buckets``.
    """
    from flask import Flask
    from invenio_db import InvenioDB
    from invenio_files_rest import InvenioFilesREST
    from invenio_files_rest import models as _files_models  # noqa: F401

    extensions = [InvenioFilesREST]
    if kind != "raw":
        # Models first: Invenio-DB sets up versioning for those it knows.
        from invenio_records import InvenioRecords
        from invenio_records import models as _records_models  # noqa: F401

        package = RECORD_PACKAGES[kind]
        importlib.import_module(package + ".models")
        extensions += [
            InvenioRecords,
            importlib.import_module(package).InvenioRecordsFiles,
        ]
    app = Flask("rfx-bench-{0}".format(kind))
    app.config.update(
        SECRET_KEY="benchmark-only",
        SQLALCHEMY_DATABASE_URI=database.uri,
        SQLALCHEMY_ENGINE_OPTIONS=database.engine_options,
        DB_VERSIONING_USER_MODEL=None,  # versioning stays on, as in Invenio
    )
    # init_db only: init_app would import every package of the
    # ``invenio_db.alembic`` entry points, ours included, into every worker.
    invenio_db = InvenioDB()
    invenio_db.init_db(app, entry_point_group=False)
    app.extensions["invenio-db"] = invenio_db
    for extension in extensions:
        extension(app)
    return app


class Bench:
    """The contenders of one worker process, bound to one application."""

    def __init__(self, kind, database, storage, create):
        """Build the application and, when ``create``, the tables."""
        self.kind = kind
        self.app = make_app(kind, database)
        self.app.app_context().push()
        from invenio_db import db

        self.db = db
        _sqlite_helper(kind)(db.engine, wal=True)  # the demo's setting
        if create:
            from invenio_files_rest.models import Location

            db.create_all()
            db.session.add(Location(name="bench", uri=storage, default=True))
            db.session.commit()
        self.meter = SQLMeter(db.engine)
        if kind != "ours" and "invenio_records_files_ext.ledger" in sys.modules:
            raise RuntimeError("this library's listeners leaked into " + kind)
        self.record_class = None
        if kind != "raw":
            api = importlib.import_module(RECORD_PACKAGES[kind] + ".api")
            self.record_class = api.Record
        for contender in CONTENDERS[kind]:  # warm-up, untimed
            self.run(contender, TX, 5, "warm-up")

    def run(self, contender, mode, count, tag):
        """Time one run: attach ``count`` files, commit; check the result."""
        from invenio_files_rest.models import Bucket, ObjectVersion

        db = self.db
        db.session.remove()
        pairs = payloads(tag, count)
        if self.record_class is None:
            target = Bucket.create()
        else:
            target = self.record_class.create({})
        db.session.commit()
        ids = (target.id, getattr(target, "bucket_id", target.id))
        gc.collect()
        with self.meter:
            started = time.perf_counter()
            if contender == "bulk":
                target.files.update({key: BytesIO(data) for key, data in pairs})
            else:
                for key, data in pairs:
                    if contender == "raw":
                        ObjectVersion.create(target, key, stream=BytesIO(data))
                    else:
                        target.files[key] = BytesIO(data)
                    if mode == EACH:
                        if contender == "original":
                            target.commit()
                        db.session.commit()
            if contender == "original":
                target.commit()
            db.session.commit()
            seconds = time.perf_counter() - started
        db.session.remove()
        self._check(ids, count)
        return {"seconds": seconds, "statements": self.meter.statements}

    def _check(self, ids, count):
        """The bucket holds ``count`` files, and so does the record."""
        from invenio_files_rest.models import ObjectVersion
        from sqlalchemy import func, select

        target_id, bucket_id = ids
        heads = self.db.session.execute(
            select(func.count())
            .select_from(ObjectVersion)
            .where(
                ObjectVersion.bucket_id == bucket_id,
                ObjectVersion.is_head.is_(True),
                ObjectVersion.file_id.isnot(None),
            )
        ).scalar()
        listed = heads
        if self.record_class is not None:
            listed = len(self.record_class.get_record(target_id).files)
        self.db.session.remove()
        if heads != count or listed != count:
            raise RuntimeError(
                "{0} files expected, bucket holds {1}, record lists {2}".format(
                    count, heads, listed
                )
            )


def worker_main(argv):
    """Entry point of a worker process."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=sorted(CONTENDERS), required=True)
    parser.add_argument("--db-uri", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--create", action="store_true")
    args = parser.parse_args(argv)
    database = Database.existing(args.db_uri, args.schema)
    benches = []

    def start():
        benches.append(Bench(args.worker, database, args.storage, args.create))
        return {}

    def handle(request):
        if request["op"] == "drop":
            benches[0].db.session.remove()
            benches[0].db.drop_all()
            return {}
        return benches[0].run(
            request["contender"], request["mode"], request["n"], request["tag"]
        )

    return serve(start, handle)


#
# Parent side
#
def start_worker(kind, options, folder, create=False):
    """Start the worker process of one kind; wait until it is ready."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        kind,
        "--db-uri",
        options.database.uri,
        "--storage",
        options.storage,
    ]
    if options.database.schema:
        command += ["--schema", options.database.schema]
    if create:
        command.append("--create")
    worker = Worker(kind, command, os.path.join(folder, kind + ".log"))
    worker.ready()
    return worker


def plan(options, present):
    """Return the groups of ``(mode, contender, n)`` runs to interleave."""
    groups = [[(TX, c, n) for c in ("raw", "ours", "original")] for n in options.sizes]
    if options.bulk:
        groups.append([(TX, "raw", options.bulk), (TX, "bulk", options.bulk)])
    for count in options.commit_each:
        groups.append([(EACH, "raw", count), (EACH, "ours", count)])
    return [[run for run in group if run[1] in present] for group in groups]


def run_all(options, workers, log):
    """Run every group ``options.repeat`` times, rotating the order."""
    owner = {c: kind for kind in workers for c in CONTENDERS[kind]}
    results = {}
    for repeat in range(options.repeat):
        for group in plan(options, set(owner)):
            shift = repeat % len(group)
            for mode, contender, count in group[shift:] + group[:shift]:
                if owner[contender] not in workers:
                    continue
                try:
                    result = workers[owner[contender]].call(
                        op="run", contender=contender, mode=mode, n=count, tag=repeat
                    )
                except WorkerError as exc:
                    if contender != "original":
                        raise
                    log("original dropped: {0}".format(exc))
                    workers.pop("original").stop()
                    continue
                results.setdefault((mode, contender, count), []).append(result)
        log("repeat {0}/{1} done".format(repeat + 1, options.repeat))
    return results


def report(options, results):
    """Return the report lines."""
    targets = Targets()

    def seconds(key):
        return [run["seconds"] for run in results.get(key, [])]

    def cell(key, count):
        runs = seconds(key)
        if not runs:
            return "-"
        value = median(runs)
        return "{0:.1f} ({1:.2f})".format(value * 1000, value * 1000 / count)

    def per_file(key, count):
        runs = results.get(key)
        if not runs:
            return "-"
        return "{0:.2f}".format(median([run["statements"] for run in runs]) / count)

    names = [
        c for c in ("raw", "ours", "original") if (TX, c, options.sizes[0]) in results
    ]
    out = [
        "",
        "1. Attach N files one by one, one transaction (commit at the end)",
        "   median ms (ms per file); ratio of medians [range of the per-repeat ratios]",
    ]
    rows = [["N"] + names + ["ours/raw", "<= {0}".format(TARGET_OURS_RAW)]]
    if "original" in names:
        rows[0].append("ours/original")
    for count in options.sizes:
        ratio = Ratio.of(seconds((TX, "ours", count)), seconds((TX, "raw", count)))
        row = [count] + [cell((TX, name, count), count) for name in names]
        row += [
            str(ratio),
            targets.check(
                "one by one at {0}".format(count), ratio.value <= TARGET_OURS_RAW
            ),
        ]
        if "original" in names:
            row.append(
                str(
                    Ratio.of(
                        seconds((TX, "ours", count)), seconds((TX, "original", count))
                    )
                )
            )
        rows.append(row)
    out += table(rows)
    out.append("   statements per file (every statement sent, savepoints included)")
    rows = [["N"] + names]
    for count in options.sizes:
        rows.append([count] + [per_file((TX, name, count), count) for name in names])
    out += table(rows)
    if options.bulk:
        count = options.bulk
        raw, bulk = (TX, "raw", count), (TX, "bulk", count)
        speedup = Ratio.of(seconds(raw), seconds(bulk))
        out += [
            "",
            "2. Bulk: {0} files in one files.update() vs raw one by one".format(count),
        ]
        out += table(
            [
                ["", "ms (ms/file)", "statements/file"],
                ["raw one by one", cell(raw, count), per_file(raw, count)],
                ["ours bulk", cell(bulk, count), per_file(bulk, count)],
            ]
        )
        out.append(
            "   raw/bulk speed-up: {0}   target >= {1:g}: {2}".format(
                speedup,
                TARGET_BULK_SPEEDUP,
                targets.check("bulk speed-up", speedup.value >= TARGET_BULK_SPEEDUP),
            )
        )
    if options.commit_each:
        out += ["", "3. Commit after every file (no target)"]
        rows = [["N", "raw", "ours", "ours/raw", "statements/file raw", "ours"]]
        for count in options.commit_each:
            raw, ours = (EACH, "raw", count), (EACH, "ours", count)
            rows.append(
                [
                    count,
                    cell(raw, count),
                    cell(ours, count),
                    str(Ratio.of(seconds(ours), seconds(raw))),
                    per_file(raw, count),
                    per_file(ours, count),
                ]
            )
        out += table(rows)
    out += ["", targets.summary()]
    return out


def sizes(text):
    """Parse ``100,400``."""
    return tuple(int(part) for part in text.split(",") if part)


def parse_args(argv):
    """Parse the command line; ``--quick`` sets defaults, others override."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=sizes, help="files per run (100,400,1600)")
    parser.add_argument("--repeat", type=int, help="runs per contender and size (5)")
    parser.add_argument(
        "--bulk", type=int, help="files in the bulk run; 0 skips (1600)"
    )
    parser.add_argument(
        "--commit-each",
        type=sizes,
        help="sizes of the commit-each runs; '' skips (100,400)",
    )
    parser.add_argument(
        "--db-uri",
        help="database (default: SQLite in a temporary folder); on PostgreSQL "
        "the tables go into a new schema, dropped at the end",
    )
    parser.add_argument("--no-original", action="store_true", help="skip the original")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one run (CI)"
    )
    options = parser.parse_args(argv)
    quick = options.quick
    options.sizes = options.sizes or (QUICK_SIZES if quick else SIZES)
    options.repeat = options.repeat or (1 if quick else REPEAT)
    if options.bulk is None:
        options.bulk = QUICK_BULK if quick else BULK
    if options.commit_each is None:
        options.commit_each = QUICK_COMMIT_EACH if quick else COMMIT_EACH
    return options


def main(argv=None):
    """Run the benchmark and print the report."""
    argv = sys.argv[1:] if argv is None else argv
    if "--worker" in argv:
        return worker_main(argv)
    options = parse_args(argv)
    started = time.perf_counter()

    def log(message):
        print(
            "[attach {0:6.1f} s] {1}".format(time.perf_counter() - started, message),
            file=sys.stderr,
            flush=True,
        )

    folder = tempfile.mkdtemp(prefix="rfx-attach-")
    options.storage = os.path.join(folder, "storage")
    os.makedirs(options.storage)
    workers = {}
    options.database = database = Database(options.db_uri, folder)
    original = "skipped (--no-original)"
    try:
        workers["ours"] = start_worker("ours", options, folder, create=True)
        workers["raw"] = start_worker("raw", options, folder)
        if not options.no_original:
            if importlib.util.find_spec("invenio_records_files") is None:
                original = "invenio_records_files is not importable (see README)"
            else:
                try:
                    workers["original"] = start_worker("original", options, folder)
                    original = "present"
                except WorkerError as exc:
                    original = "could not start: " + str(exc).splitlines()[0]
        log("workers ready: " + ", ".join(workers))
        results = run_all(options, workers, log)
        print(
            "invenio-records-files-ext: attaching many small files (benchmarks/attach.py)"
        )
        print(
            "  database: {0}; versioning on; {1} B per file; {2} interleaved "
            "run(s) per figure; medians; original: {3}".format(
                database.description, FILE_SIZE, options.repeat, original
            )
        )
        print("\n".join(report(options, results)))
    finally:
        for kind in [k for k in workers if k != "ours"]:
            workers.pop(kind).stop()
        if "ours" in workers:
            if database.given and not database.schema:
                workers["ours"].call(op="drop")
            workers.pop("ours").stop()
        database.remove()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
