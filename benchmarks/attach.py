#!/usr/bin/env python
"""Benchmark: attaching many small files to a record, side by side.

Contenders, each in a process of its own (so that no contender pays for
another one's session listeners, and the original module's model, which
shares its table name with ours, never meets ours in one process):

``raw``
    Invenio-Files-REST alone: ``ObjectVersion.create(bucket, key,
    stream=...)`` on a fresh bucket. The floor: what any records layer
    must at least cost.
``ours``
    ``record.files[key] = stream`` on a fresh
    :class:`invenio_records_files_ext.api.Record`.
``bulk``
    ``record.files.update({key: stream, ...})``: one call for all files.
``original``
    ``invenio_records_files.api.Record`` with ``record.files[key] =
    stream`` and ``record.commit()``; only when ``invenio_records_files``
    can be imported by the interpreter running this script (it is never a
    dependency of this project).

The runs of the contenders are interleaved and repeated; medians and
ratios are printed. Targets are printed as PASS or MISS and never make
the script fail. Run ``python benchmarks/attach.py --help`` and see
``benchmarks/README.rst``.
"""

import argparse
import gc
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from importlib import metadata
from io import BytesIO

DEFAULT_SIZES = (100, 400, 1600)
DEFAULT_REPEAT = 5
DEFAULT_BULK = 1600
DEFAULT_COMMIT_EACH = (100, 400)
QUICK_SIZES = (20, 60)
QUICK_BULK = 100
QUICK_COMMIT_EACH = (20,)
FILE_SIZE = 1024
TARGET_OURS_RAW = 1.3
TARGET_BULK_SPEEDUP = 3.0

TX = "one transaction"
EACH = "commit each"

KINDS = ("raw", "ours", "original")
"""Worker processes, each holding the contenders named in
:data:`CONTENDERS`."""

CONTENDERS = {"raw": ("raw",), "ours": ("ours", "bulk"), "original": ("original",)}
"""Contenders run by each kind of worker."""

STATEMENT_KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "SAVEPOINT", "RELEASE")


#
# Worker side: one Flask application per process, one or two contenders.
#
def payloads(tag, count, size=FILE_SIZE):
    """Return ``count`` ``(key, bytes)`` pairs of distinct content."""
    pairs = []
    for index in range(count):
        seed = "{0}/{1}\n".format(tag, index).encode()
        data = (seed * (size // len(seed) + 1))[:size]
        pairs.append(("file-{0:05d}.txt".format(index), data))
    return pairs


def _load_sqlite_helper():
    """Load ``invenio_records_files_ext/sqlite.py`` without its package.

    Importing the package registers this library's session listeners,
    which the ``raw`` and ``original`` contenders must not pay for; the
    module itself only sets up the SQLite engine, the same way for all.
    """
    spec = importlib.util.find_spec("invenio_records_files_ext")
    path = os.path.join(spec.submodule_search_locations[0], "sqlite.py")
    module_spec = importlib.util.spec_from_file_location("_rfx_bench_sqlite", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.enable_sqlite_savepoints


def make_app(kind, db_uri, pg_schema=None):
    """Build the smallest Flask application a worker of ``kind`` needs.

    Models are imported explicitly instead of through the
    ``invenio_db.models`` entry points: with the original module installed
    both packages declare a ``records_buckets`` table.
    """
    from flask import Flask
    from invenio_db import InvenioDB
    from invenio_files_rest import InvenioFilesREST
    from invenio_files_rest import models as _files_models  # noqa: F401

    extensions = []
    if kind in ("ours", "original"):
        from invenio_records import InvenioRecords
        from invenio_records import models as _records_models  # noqa: F401

        extensions.append(InvenioRecords)
    if kind == "ours":
        from invenio_records_files_ext import InvenioRecordsFiles
        from invenio_records_files_ext import models as _ours  # noqa: F401

        extensions.append(InvenioRecordsFiles)
    elif kind == "original":
        from invenio_records_files import InvenioRecordsFiles
        from invenio_records_files import models as _original  # noqa: F401

        extensions.append(InvenioRecordsFiles)

    app = Flask("rfx-bench-{0}".format(kind))
    app.config.update(
        SECRET_KEY="benchmark-only",
        SQLALCHEMY_DATABASE_URI=db_uri,
        # Versioning stays on (Invenio's default); no user table needed.
        DB_VERSIONING_USER_MODEL=None,
    )
    if pg_schema:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {
                "options": "-c timezone=UTC -c search_path={0}".format(pg_schema)
            }
        }
    # ``init_db`` only: ``init_app`` also resolves the ``invenio_db.alembic``
    # entry points, which imports every such package (ours included, with
    # its session listeners) into every worker.
    invenio_db = InvenioDB()
    invenio_db.init_db(app, entry_point_group=False)
    app.extensions["invenio-db"] = invenio_db
    InvenioFilesREST(app)
    for extension in extensions:
        extension(app)
    return app


class StatementCounter:
    """Count the statements sent to the database while switched on."""

    def __init__(self, engine):
        """Listen to ``before_cursor_execute`` on ``engine``."""
        from sqlalchemy import event

        self.active = False
        self.kinds = Counter()
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        if self.active:
            words = statement.lstrip()[:16].split(None, 1)
            self.kinds[words[0].upper() if words else "?"] += 1

    def start(self):
        """Forget earlier counts and start counting."""
        self.kinds = Counter()
        self.active = True

    def stop(self):
        """Stop counting; return ``(total, counts by first keyword)``."""
        self.active = False
        return sum(self.kinds.values()), dict(self.kinds)


class Bench:
    """The contenders of one worker process, bound to one application."""

    def __init__(self, kind, db_uri, storage, pg_schema=None, create=False):
        """Build the application and, when ``create``, the tables."""
        self.kind = kind
        self.app = make_app(kind, db_uri, pg_schema)
        self.ctx = self.app.app_context()
        self.ctx.push()
        from invenio_db import db

        self.db = db
        if db.engine.dialect.name == "sqlite":
            if kind == "ours":
                from invenio_records_files_ext.sqlite import (
                    enable_sqlite_savepoints,
                )
            else:
                enable_sqlite_savepoints = _load_sqlite_helper()
            # The demo application's setting, for every contender alike.
            enable_sqlite_savepoints(db.engine, wal=True)
        if create:
            self._create_tables(storage)
        self.counter = StatementCounter(db.engine)
        self.listeners_loaded = "invenio_records_files_ext.transaction" in sys.modules
        if kind != "ours" and self.listeners_loaded:
            raise RuntimeError("this library's listeners leaked into " + kind)
        self.info = {
            "dialect": db.engine.dialect.name,
            "versioning": bool(self.app.config.get("DB_VERSIONING")),
        }

    def _create_tables(self, storage):
        from invenio_files_rest.models import Location
        from sqlalchemy import inspect

        db = self.db
        existing = inspect(db.engine).get_table_names()
        if existing:
            raise RuntimeError(
                "the database is not empty ({0} tables): give an empty one, "
                "the benchmark makes its tables and drops them".format(len(existing))
            )
        db.create_all()
        db.session.add(Location(name="bench", uri=storage, default=True))
        db.session.commit()

    def drop_tables(self):
        """Drop every table the benchmark created."""
        self.db.session.remove()
        self.db.drop_all()

    #
    # One timed run: setup (not timed), attach and commit (timed), check.
    #
    def run(self, contender, mode, count, tag):
        """Time one run; return seconds, statements and their kinds."""
        db = self.db
        db.session.remove()
        pairs = payloads(tag, count)
        prepare, attach, identify, check = getattr(self, "_" + contender)(mode == EACH)
        target = prepare()
        db.session.commit()
        # Load the ids now (untimed): the session is gone at check time.
        ident = identify(target)
        gc.collect()
        self.counter.start()
        started = time.perf_counter()
        attach(target, pairs)
        db.session.commit()
        seconds = time.perf_counter() - started
        statements, kinds = self.counter.stop()
        db.session.remove()
        found = check(ident)
        if found != count:
            raise RuntimeError(
                "{0}: {1} files expected, {2} found".format(contender, count, found)
            )
        db.session.remove()
        return {"seconds": seconds, "statements": statements, "kinds": kinds}

    def _heads(self, bucket_id):
        from invenio_files_rest.models import ObjectVersion
        from sqlalchemy import func, select

        return self.db.session.execute(
            select(func.count())
            .select_from(ObjectVersion)
            .where(
                ObjectVersion.bucket_id == bucket_id,
                ObjectVersion.is_head.is_(True),
                ObjectVersion.file_id.isnot(None),
            )
        ).scalar()

    @staticmethod
    def _record_ids(record):
        return record.id, record.bucket_id

    def _record_check(self, ids):
        """Check a record's bucket and its list of files alike.

        The original keeps the list in the record's JSON (``_files``); this
        library keeps one row per file.
        """
        record_id, bucket_id = ids
        heads = self._heads(bucket_id)
        if self.kind == "ours":
            from sqlalchemy import func, select

            from invenio_records_files_ext.models import FileEntry

            listed = self.db.session.execute(
                select(func.count())
                .select_from(FileEntry)
                .where(FileEntry.bucket_id == bucket_id)
            ).scalar()
        else:
            from invenio_records.models import RecordMetadata

            stored = self.db.session.get(RecordMetadata, record_id).json
            listed = len(stored.get("_files") or [])
        return heads if heads == listed else -1

    def _raw(self, commit_each):
        from invenio_files_rest.models import Bucket, ObjectVersion

        session = self.db.session

        def attach(bucket, pairs):
            for key, data in pairs:
                ObjectVersion.create(bucket, key, stream=BytesIO(data))
                if commit_each:
                    session.commit()

        return Bucket.create, attach, (lambda bucket: bucket.id), self._heads

    def _ours(self, commit_each):
        from invenio_records_files_ext.api import Record

        session = self.db.session

        def attach(record, pairs):
            for key, data in pairs:
                record.files[key] = BytesIO(data)
                if commit_each:
                    session.commit()

        return (lambda: Record.create({})), attach, self._record_ids, self._record_check

    def _bulk(self, commit_each):
        from invenio_records_files_ext.api import Record

        def attach(record, pairs):
            record.files.update({key: BytesIO(data) for key, data in pairs})

        return (lambda: Record.create({})), attach, self._record_ids, self._record_check

    def _original(self, commit_each):
        from invenio_records_files.api import Record

        session = self.db.session

        def attach(record, pairs):
            for key, data in pairs:
                record.files[key] = BytesIO(data)
                if commit_each:
                    record.commit()
                    session.commit()
            record.commit()

        return (lambda: Record.create({})), attach, self._record_ids, self._record_check

    def warm_up(self):
        """Run every contender once, untimed, so that caches are filled."""
        for contender in CONTENDERS[self.kind]:
            self.run(contender, TX, 5, "warm-up-" + contender)


def worker_main(argv):
    """Serve timed runs over stdin/stdout (JSON lines) for the parent."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=KINDS, required=True)
    parser.add_argument("--db-uri", required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--pg-schema")
    parser.add_argument("--create", action="store_true")
    args = parser.parse_args(argv)
    # Keep stdout for the protocol: whatever libraries print goes to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(message):
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    try:
        bench = Bench(
            args.worker,
            args.db_uri,
            args.storage,
            pg_schema=args.pg_schema,
            create=args.create,
        )
        bench.warm_up()
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        traceback.print_exc()
        reply({"ok": False, "error": "{0}: {1}".format(type(exc).__name__, exc)})
        return 1
    reply({"ok": True, "info": bench.info})
    for line in sys.stdin:
        message = json.loads(line)
        op = message.get("op")
        if op == "quit":
            break
        try:
            if op == "run":
                result = bench.run(
                    message["contender"], message["mode"], message["n"], message["tag"]
                )
            elif op == "drop":
                bench.drop_tables()
                result = {}
            else:
                raise ValueError("unknown op {0!r}".format(op))
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            traceback.print_exc()
            reply({"ok": False, "error": "{0}: {1}".format(type(exc).__name__, exc)})
        else:
            reply({"ok": True, "result": result})
    bench.db.session.remove()
    bench.db.engine.dispose()
    return 0


#
# Parent side: start the workers, interleave the runs, print the figures.
#
class WorkerError(RuntimeError):
    """A worker process failed."""


class Worker:
    """A worker process and its JSON-lines channel."""

    def __init__(self, kind, options, log_path, create=False):
        """Start the process; call :meth:`wait_ready` before using it."""
        self.kind = kind
        self.log_path = log_path
        self.info = {}
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            kind,
            "--db-uri",
            options.db_uri,
            "--storage",
            options.storage,
        ]
        if options.pg_schema:
            command += ["--pg-schema", options.pg_schema]
        if create:
            command.append("--create")
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )

    def _receive(self):
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError(
                "{0} worker died:\n{1}".format(self.kind, self.log_tail())
            )
        message = json.loads(line)
        if not message.get("ok"):
            raise WorkerError(
                "{0} worker: {1}\n{2}".format(
                    self.kind, message.get("error"), self.log_tail()
                )
            )
        return message

    def wait_ready(self):
        """Wait until the application is up and warmed up."""
        self.info = self._receive()["info"]

    def call(self, **message):
        """Send one request and return its result."""
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        return self._receive()["result"]

    def log_tail(self, lines=30):
        """Return the end of the worker's stderr."""
        self._log.flush()
        try:
            with open(self.log_path) as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """Ask the process to quit; kill it (by its pid) if it does not."""
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()


def _sizes(text):
    values = [int(part) for part in text.replace(" ", "").split(",") if part]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give positive integers: 100,400,1600")
    return tuple(values)


def parse_args(argv):
    """Parse the command line; ``--quick`` sets defaults, others override."""
    parser = argparse.ArgumentParser(
        description=(
            "Time attaching many small files to a record: raw "
            "Invenio-Files-REST (the floor), invenio-records-files-ext one by "
            "one and in bulk, and the original invenio-records-files when it "
            "is importable."
        )
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        help="numbers of files per run (default: 100,400,1600)",
    )
    parser.add_argument(
        "--repeat", type=int, help="runs per contender and size (default: 5)"
    )
    parser.add_argument(
        "--bulk",
        type=int,
        help="files in the bulk comparison; 0 skips it (default: 1600)",
    )
    parser.add_argument(
        "--commit-each",
        nargs="?",
        type=_sizes,
        const=(),
        metavar="SIZES",
        help=(
            "also time committing after every file, ours vs raw (default "
            "sizes: 100,400)"
        ),
    )
    parser.add_argument(
        "--db-uri",
        help=(
            "database URI (default: a fresh SQLite file in a temporary "
            "folder). On PostgreSQL the tables live in a schema of their own, "
            "dropped at the end; another database must be empty and is "
            "emptied again at the end"
        ),
    )
    parser.add_argument(
        "--no-original",
        action="store_true",
        help="skip invenio-records-files even when it is importable",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and one run, for CI smoke runs",
    )
    options = parser.parse_args(argv)
    quick = options.quick
    if options.sizes is None:
        options.sizes = QUICK_SIZES if quick else DEFAULT_SIZES
    if options.repeat is None:
        options.repeat = 1 if quick else DEFAULT_REPEAT
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")
    if options.bulk is None:
        options.bulk = QUICK_BULK if quick else DEFAULT_BULK
    if options.commit_each == ():
        options.commit_each = QUICK_COMMIT_EACH if quick else DEFAULT_COMMIT_EACH
    return options


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class Database:
    """The benchmark's database: made fresh, removed at the end."""

    def __init__(self, uri, folder):
        """Choose the URI; on PostgreSQL create a schema of our own."""
        self.given = uri
        self.uri = uri or "sqlite:///" + os.path.join(folder, "bench.db")
        self.pg_schema = None
        self.description = "SQLite, fresh file in a temporary folder"
        if uri:
            self.description = _safe_uri(uri)
        if self.uri.startswith("postgres"):
            self.pg_schema = "rfx_bench_" + uuid.uuid4().hex[:12]
            self._execute("CREATE SCHEMA " + self.pg_schema)
            self.description += " (schema {0})".format(self.pg_schema)

    def _execute(self, sql):
        from sqlalchemy import create_engine, text

        engine = create_engine(self.uri)
        try:
            with engine.begin() as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()

    @property
    def drop_through_worker(self):
        """Whether the tables must be dropped by a worker at the end."""
        return bool(self.given) and self.pg_schema is None

    def remove(self):
        """Drop the PostgreSQL schema (other cases: see the caller)."""
        if self.pg_schema:
            self._execute("DROP SCHEMA {0} CASCADE".format(self.pg_schema))


def _safe_uri(uri):
    """Hide a password in a URI before printing it."""
    scheme, sep, rest = uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return scheme + sep + credentials + at + host


def _plan(options, kinds):
    """Return the groups of ``(mode, contender, n)`` runs to interleave."""
    groups = []
    for count in options.sizes:
        group = [(TX, contender, count) for contender in ("raw", "ours", "original")]
        if options.bulk == count:
            group.append((TX, "bulk", count))
        groups.append(group)
    if options.bulk and options.bulk not in options.sizes:
        groups.append([(TX, "raw", options.bulk), (TX, "bulk", options.bulk)])
    for count in options.commit_each or ():
        groups.append([(EACH, "raw", count), (EACH, "ours", count)])
    owner = {c: kind for kind in kinds for c in CONTENDERS[kind]}
    return [[run for run in group if run[1] in owner] for group in groups], owner


def run_benchmark(options, workers, owner, results, log):
    """Run every group ``options.repeat`` times, rotating the order."""
    groups, _ = _plan(options, list(workers))
    for repeat in range(options.repeat):
        started = time.perf_counter()
        for group in groups:
            shift = repeat % len(group)
            for mode, contender, count in group[shift:] + group[:shift]:
                if owner.get(contender) not in workers:
                    continue
                tag = "{0}-{1}-{2}-{3}".format(contender, mode, count, repeat)
                try:
                    result = workers[owner[contender]].call(
                        op="run", contender=contender, mode=mode, n=count, tag=tag
                    )
                except WorkerError as exc:
                    if contender != "original":
                        raise
                    log("original dropped: {0}".format(exc))
                    workers.pop("original").stop()
                    continue
                results.setdefault((mode, contender, count), []).append(result)
        log(
            "repeat {0}/{1} done in {2:.1f} s".format(
                repeat + 1, options.repeat, time.perf_counter() - started
            )
        )


#
# Report
#
def _median(results, key):
    runs = results.get(key)
    if not runs:
        return None
    return statistics.median(run["seconds"] for run in runs)


def _per_file(results, key, count):
    runs = results.get(key)
    if not runs:
        return None
    return statistics.median(run["statements"] for run in runs) / count


def _ratio(results, top, bottom):
    """Return the ratio of medians and the range of the paired ratios."""
    a, b = _median(results, top), _median(results, bottom)
    if a is None or b is None:
        return None
    pairs = [
        x["seconds"] / y["seconds"]
        for x, y in zip(results.get(top, []), results.get(bottom, []))
    ]
    return a / b, min(pairs), max(pairs)


def _fmt_ratio(ratio, repeat):
    if ratio is None:
        return "-"
    if repeat > 1:
        return "{0:.2f} [{1:.2f}-{2:.2f}]".format(*ratio)
    return "{0:.2f}".format(ratio[0])


def _fmt_time(seconds, count):
    if seconds is None:
        return "-"
    return "{0:.1f} ({1:.2f})".format(seconds * 1000, seconds * 1000 / count)


def _fmt_number(value):
    return "-" if value is None else "{0:.2f}".format(value)


def _breakdown(results, key, count):
    runs = results.get(key)
    if not runs:
        return "-"
    kinds = runs[-1]["kinds"]
    names = [name for name in STATEMENT_KINDS if kinds.get(name)]
    names += sorted(name for name in kinds if name not in STATEMENT_KINDS)
    return "  ".join("{0} {1:.2f}".format(name, kinds[name] / count) for name in names)


def _table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(cell).rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def report(options, results, present, original_note):
    """Return the printed report as a list of lines."""
    out = []
    repeat = options.repeat
    names = [c for c in ("raw", "ours", "original") if c in present]
    out.append("")
    out.append(
        "1. Attach N files one by one, one transaction per run (commit at the end)"
    )
    out.append(
        "   median wall time, ms (ms per file); ratios of medians "
        "[range of the paired per-repeat ratios]"
    )
    header = ["N"] + names + ["ours/raw", "target <= {0}".format(TARGET_OURS_RAW)]
    if "original" in present:
        header.append("ours/original")
    rows = [header]
    verdicts = []
    for count in options.sizes:
        row = [count]
        for name in names:
            row.append(_fmt_time(_median(results, (TX, name, count)), count))
        ratio = _ratio(results, (TX, "ours", count), (TX, "raw", count))
        row.append(_fmt_ratio(ratio, repeat))
        verdict = "-" if ratio is None else _verdict(ratio[0] <= TARGET_OURS_RAW)
        verdicts.append((count, ratio, verdict))
        row.append(verdict)
        if "original" in present:
            original = _ratio(results, (TX, "ours", count), (TX, "original", count))
            row.append(_fmt_ratio(original, repeat))
        rows.append(row)
    out += _table(rows)
    out.append("")
    out.append("   statements per file (every statement sent, savepoints included)")
    rows = [["N"] + names]
    for count in options.sizes:
        rows.append(
            [count]
            + [_fmt_number(_per_file(results, (TX, n, count), count)) for n in names]
        )
    out += _table(rows)
    largest = max(options.sizes)
    out.append("   per file at N={0}, by kind:".format(largest))
    for name in names:
        out.append(
            "     {0:<9} {1}".format(
                name, _breakdown(results, (TX, name, largest), largest)
            )
        )
    if original_note:
        out.append("   original: " + original_note)

    bulk_verdict = None
    if options.bulk:
        count = options.bulk
        raw_key, bulk_key = (TX, "raw", count), (TX, "bulk", count)
        out.append("")
        out.append(
            "2. Bulk: {0} files in one record.files.update() call vs the raw "
            "one-by-one floor".format(count)
        )
        rows = [["", "ms (ms/file)", "statements/file"]]
        rows.append(
            [
                "raw one by one",
                _fmt_time(_median(results, raw_key), count),
                _fmt_number(_per_file(results, raw_key, count)),
            ]
        )
        rows.append(
            [
                "ours bulk",
                _fmt_time(_median(results, bulk_key), count),
                _fmt_number(_per_file(results, bulk_key, count)),
            ]
        )
        out += _table(rows)
        speedup = _ratio(results, raw_key, bulk_key)
        if speedup is not None:
            bulk_verdict = _verdict(speedup[0] >= TARGET_BULK_SPEEDUP)
            spread = _fmt_ratio(speedup, repeat)[len("{0:.2f}".format(speedup[0])) :]
            out.append(
                "   raw/bulk speed-up: {0:.2f}x{1}   target >= {2:g}x: {3}".format(
                    speedup[0], spread, TARGET_BULK_SPEEDUP, bulk_verdict
                )
            )
        out.append("   bulk per file by kind: " + _breakdown(results, bulk_key, count))

    if options.commit_each:
        out.append("")
        out.append(
            "3. Commit after every file (one transaction per file; ours writes "
            "the record JSON, all of _files, in each)"
        )
        rows = [["N", "raw", "ours", "ours/raw", "stmts/file raw", "ours"]]
        for count in options.commit_each:
            raw_key, ours_key = (EACH, "raw", count), (EACH, "ours", count)
            rows.append(
                [
                    count,
                    _fmt_time(_median(results, raw_key), count),
                    _fmt_time(_median(results, ours_key), count),
                    _fmt_ratio(_ratio(results, ours_key, raw_key), repeat),
                    _fmt_number(_per_file(results, raw_key, count)),
                    _fmt_number(_per_file(results, ours_key, count)),
                ]
            )
        out += _table(rows)
        out.append("   (no target: the cost grows with the number of files listed)")

    out.append("")
    summary = ", ".join(
        "{0}: {1}".format(count, "-" if ratio is None else "{0:.2f}".format(ratio[0]))
        for count, ratio, _ in verdicts
    )
    overall = "MISS" if any(v == "MISS" for _, _, v in verdicts) else "PASS"
    line = "Summary: ours/raw <= {0}: {1} ({2})".format(
        TARGET_OURS_RAW, overall, summary
    )
    if bulk_verdict:
        line += "; raw/bulk >= {0:g}x: {1}".format(TARGET_BULK_SPEEDUP, bulk_verdict)
    out.append(line)
    return out


def _verdict(ok):
    return "PASS" if ok else "MISS"


def main(argv=None):
    """Run the benchmark and print the figures; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if "--worker" in argv:
        return worker_main(argv)
    options = parse_args(argv)

    def log(message):
        print("[attach] " + message, file=sys.stderr, flush=True)

    folder = tempfile.mkdtemp(prefix="rfx-bench-")
    options.storage = os.path.join(folder, "storage")
    os.makedirs(options.storage)
    workers = {}
    database = None
    started = time.perf_counter()
    try:
        database = Database(options.db_uri, folder)
        options.db_uri, options.pg_schema = database.uri, database.pg_schema
        original_note = None
        kinds = ["raw", "ours"]
        if options.no_original:
            original_note = "skipped (--no-original)"
        elif importlib.util.find_spec("invenio_records_files") is None:
            original_note = (
                "invenio_records_files is not importable by {0}; see "
                "benchmarks/README.rst".format(sys.executable)
            )
        else:
            kinds.append("original")
        log("starting workers: " + ", ".join(kinds))
        # The ours worker makes the tables, then the others start.
        workers["ours"] = Worker(
            "ours", options, os.path.join(folder, "ours.log"), create=True
        )
        workers["ours"].wait_ready()
        for kind in kinds:
            if kind != "ours":
                workers[kind] = Worker(
                    kind, options, os.path.join(folder, kind + ".log")
                )
        for kind in kinds:
            if kind == "ours":
                continue
            try:
                workers[kind].wait_ready()
            except WorkerError as exc:
                if kind != "original":
                    raise
                original_note = "could not start: " + str(exc).splitlines()[0]
                workers.pop(kind).stop()
        _, owner = _plan(options, list(workers))
        results = {}
        run_benchmark(options, workers, owner, results, log)
        if "original" in kinds and "original" not in workers and not original_note:
            original_note = "failed during the runs (see the log above)"

        info = workers["ours"].info
        header = [
            "invenio-records-files-ext: attaching many small files",
            "  python {0}; SQLAlchemy {1}; invenio-files-rest {2}; "
            "invenio-records {3}; invenio-records-files-ext {4}".format(
                sys.version.split()[0],
                _version("SQLAlchemy"),
                _version("invenio-files-rest"),
                _version("invenio-records"),
                _version("invenio-records-files-ext"),
            ),
            "  original invenio-records-files: {0}".format(
                _version("invenio-records-files") if "original" in workers else "-"
            ),
            "  database: {0}; versioning {1}".format(
                database.description, "on" if info.get("versioning") else "off"
            ),
            "  {0} B per file, distinct content; {1} run(s) per figure, "
            "interleaved; medians".format(FILE_SIZE, options.repeat),
        ]
        present = set(c for kind in workers for c in CONTENDERS[kind])
        lines = header + report(options, results, present, original_note)
        print("\n".join(lines))
        log("total {0:.1f} s".format(time.perf_counter() - started))
    finally:
        for kind in [k for k in workers if k != "ours"]:
            workers.pop(kind).stop()
        if "ours" in workers:
            if database is not None and database.drop_through_worker:
                try:
                    workers["ours"].call(op="drop")
                except WorkerError as exc:
                    log("could not drop the tables: {0}".format(exc))
            workers.pop("ours").stop()
        if database is not None:
            database.remove()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
