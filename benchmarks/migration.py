#!/usr/bin/env python
"""Benchmark: the data migration of ``_files`` into rows, side by side.

Each scenario builds, with plain SQL, a database at the revision before the
migration holding records in invenio-records-files' layout, then times
``alembic upgrade`` of this package's branch and measures how much the
process grew while it ran (peak resident memory over the level just
before). Scenarios run in processes of their own:

``small``
    N records with F files each.
``small x4``
    4N records with F files each: time should grow about 4 times and
    memory not at all (records are read in batches).
``large``
    One record with B files (100,000 by default): memory is bounded by
    the largest record.

Run ``python benchmarks/migration.py --help``; see ``benchmarks/README.rst``.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BEFORE = "5e8a91d2c0f7"
HEAD = "invenio_records_files_ext@head"
DEPENDENCIES = ["invenio_files_rest@head", "invenio_records@head"]
OWN_TABLES = ("records_buckets", "records_files_entry")
INSERT_SLICE = 5000


def _memory_kib(field):
    with open("/proc/self/status") as fp:
        for line in fp:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak():
    """Reset the peak resident size (Linux); return whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as fp:
            fp.write("5")
        return True
    except OSError:
        return False


def make_app(db_uri):
    """The smallest application the migration needs."""
    from flask import Flask
    from invenio_db import InvenioDB
    from invenio_files_rest import InvenioFilesREST
    from invenio_records import InvenioRecords

    from invenio_records_files_ext import InvenioRecordsFiles

    app = Flask("rfx-bench-migration")
    app.config.update(SQLALCHEMY_DATABASE_URI=db_uri, DB_VERSIONING_USER_MODEL=None)
    InvenioDB(app)
    InvenioRecords(app)
    InvenioFilesREST(app)
    InvenioRecordsFiles(app)
    return app


def previous_head(alembic, db):
    """Bring the empty database to the revision before the migration."""
    if db.engine.dialect.name == "sqlite":
        # Invenio's own recipes ALTER constraints, which SQLite cannot do.
        tables = [t for t in db.metadata.sorted_tables if t.name not in OWN_TABLES]
        db.metadata.create_all(db.engine, tables=tables)
        alembic.stamp(DEPENDENCIES)
    alembic.upgrade(DEPENDENCIES + [BEFORE])


def build(db, folder, records, files):
    """Write ``records`` records of ``files`` files each, original layout."""
    from invenio_files_rest.models import Bucket, FileInstance, Location, ObjectVersion
    from invenio_records.models import RecordMetadata

    from invenio_records_files_ext.models import RecordsBuckets

    now = datetime.now(tz=timezone.utc)
    rows = {name: [] for name in ("buckets", "files", "objects", "records", "links")}

    def flush(connection, force=False):
        # All tables at once, parents first: foreign keys hold at each step.
        if not force and max(len(pending) for pending in rows.values()) < INSERT_SLICE:
            return
        for name, model in (
            ("buckets", Bucket),
            ("files", FileInstance),
            ("objects", ObjectVersion),
            ("records", RecordMetadata),
            ("links", RecordsBuckets),
        ):
            if rows[name]:
                connection.execute(model.__table__.insert(), rows[name])
                rows[name] = []

    with db.engine.begin() as connection:
        connection.execute(
            Location.__table__.insert().values(
                id=1, name="bench", uri=folder, default=True, created=now, updated=now
            )
        )
        for _ in range(records):
            bucket_id, record_id = uuid.uuid4(), uuid.uuid4()
            rows["buckets"].append(
                dict(
                    id=bucket_id,
                    default_location=1,
                    default_storage_class="S",
                    size=0,
                    locked=False,
                    deleted=False,
                    created=now,
                    updated=now,
                )
            )
            entries = []
            for index in range(files):
                file_id, version_id = uuid.uuid4(), uuid.uuid4()
                key = "data/file-{0:06d}.csv".format(index)
                checksum = "md5:{0:032x}".format(index)
                rows["files"].append(
                    dict(
                        id=file_id,
                        uri=os.path.join(folder, file_id.hex),
                        storage_class="S",
                        size=1024,
                        checksum=checksum,
                        readable=True,
                        writable=False,
                        last_check=True,
                        created=now,
                        updated=now,
                    )
                )
                rows["objects"].append(
                    dict(
                        version_id=version_id,
                        key=key,
                        bucket_id=bucket_id,
                        file_id=file_id,
                        _mimetype=None,
                        is_head=True,
                        created=now,
                        updated=now,
                    )
                )
                entries.append(
                    dict(
                        bucket=str(bucket_id),
                        checksum=checksum,
                        key=key,
                        size=1024,
                        version_id=str(version_id),
                        file_id=str(file_id),
                        description="file {0}".format(index),
                    )
                )
            rows["records"].append(
                dict(
                    id=record_id,
                    version_id=1,
                    created=now,
                    updated=now,
                    json={
                        "title": "bench",
                        "_bucket": str(bucket_id),
                        "_files": entries,
                    },
                )
            )
            rows["links"].append(dict(record_id=record_id, bucket_id=bucket_id))
            flush(connection)
        flush(connection, force=True)


def build_step(db_uri, folder, records, files):
    """Bring a new database to the previous revision and fill it."""
    from invenio_db import db

    app = make_app(db_uri)
    with app.app_context():
        previous_head(app.extensions["invenio-db"].alembic, db)
        build(db, folder, records, files)
        db.session.remove()
        db.engine.dispose()
    return {}


def upgrade_step(db_uri, records, files):
    """Time the upgrade in a process that did nothing else; return figures."""
    from invenio_db import db
    from sqlalchemy import event, func, select

    from invenio_records_files_ext.models import FileEntry

    app = make_app(db_uri)
    with app.app_context():
        alembic = app.extensions["invenio-db"].alembic
        statements = []
        event.listen(
            db.engine, "before_cursor_execute", lambda *args: statements.append(1)
        )
        baseline = _memory_kib("VmRSS")
        exact = _reset_peak()
        started = time.perf_counter()
        alembic.upgrade(HEAD)
        seconds = time.perf_counter() - started
        peak = _memory_kib("VmHWM")
        moved = db.session.execute(select(func.count()).select_from(FileEntry)).scalar()
        db.session.remove()
        if moved != records * files:
            raise RuntimeError(
                "{0} rows expected, {1} found".format(records * files, moved)
            )
        return dict(
            records=records,
            files=files,
            seconds=seconds,
            statements=len(statements),
            growth_mib=max(peak - baseline, 0) / 1024 if exact else None,
            dialect=db.engine.dialect.name,
        )


def fresh_database(base_uri, folder, name):
    """Return the URI of a new empty database (and how to drop it)."""
    if not base_uri:
        return "sqlite:///" + os.path.join(folder, name + ".db"), None
    import sqlalchemy as sa

    url = sa.engine.make_url(base_uri)
    database = "rfx_bench_{0}_{1}".format(name, uuid.uuid4().hex[:8])
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE {0}".format(database)))

    def drop():
        with admin.connect() as connection:
            connection.execute(
                sa.text("DROP DATABASE IF EXISTS {0} WITH (FORCE)".format(database))
            )
        admin.dispose()

    return url.set(database=database).render_as_string(hide_password=False), drop


def worker(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", choices=("build", "upgrade"), required=True)
    parser.add_argument("--db-uri", required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--files", type=int, required=True)
    args = parser.parse_args(argv)
    if args.step == "build":
        result = build_step(args.db_uri, args.folder, args.records, args.files)
    else:
        result = upgrade_step(args.db_uri, args.records, args.files)
    sys.__stdout__.write(json.dumps(result) + "\n")
    return 0


def _run(step, uri, folder, records, files):
    process = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            "--step",
            step,
            "--db-uri",
            uri,
            "--folder",
            folder,
            "--records",
            str(records),
            "--files",
            str(files),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    if process.returncode != 0:
        # Alembic logs every revision: shown only when something failed.
        sys.stderr.write(process.stderr)
        raise SystemExit("the {0} step failed".format(step))
    return json.loads(process.stdout.strip().splitlines()[-1])


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000, help="N (2000)")
    parser.add_argument("--files", type=int, default=10, help="F (10)")
    parser.add_argument("--big", type=int, default=100000, help="B (100000)")
    parser.add_argument(
        "--db-uri",
        help="a PostgreSQL server to create throwaway databases on "
        "(default: SQLite files in a temporary folder)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="N=100, F=5, B=5000: a smoke run"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.files, args.big = 100, 5, 5000
    scenarios = [
        ("small", args.records, args.files),
        ("small x4", 4 * args.records, args.files),
        ("large", 1, args.big),
    ]
    folder = tempfile.mkdtemp(prefix="rfx-bench-migration-db-")
    results = {}
    try:
        for name, records, files in scenarios:
            print(
                "running {0}: {1} x {2} files".format(name, records, files),
                file=sys.stderr,
            )
            uri, drop = fresh_database(args.db_uri, folder, name.replace(" ", ""))
            try:
                _run("build", uri, folder, records, files)
                results[name] = _run("upgrade", uri, folder, records, files)
            finally:
                if drop is not None:
                    drop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    dialect = results["small"]["dialect"]
    print("Migration of _files into rows ({0})".format(dialect))
    print(
        "{0:<10} {1:>8} {2:>8} {3:>9} {4:>12} {5:>11} {6:>12}".format(
            "scenario",
            "records",
            "files",
            "seconds",
            "ms/1000 rows",
            "statements",
            "growth MiB",
        )
    )
    for name, _, _ in scenarios:
        r = results[name]
        rows = r["records"] * r["files"]
        growth = "n/a" if r["growth_mib"] is None else "{0:.1f}".format(r["growth_mib"])
        print(
            "{0:<10} {1:>8} {2:>8} {3:>9.2f} {4:>12.1f} {5:>11} {6:>12}".format(
                name,
                r["records"],
                rows,
                r["seconds"],
                1000 * 1000 * r["seconds"] / rows,
                r["statements"],
                growth,
            )
        )
    small, bigger = results["small"], results["small x4"]
    print(
        "small x4 / small: time {0:.2f}, statements {1:.2f}".format(
            bigger["seconds"] / small["seconds"],
            bigger["statements"] / small["statements"],
        )
    )
    if small["growth_mib"] is not None:
        print(
            "memory growth: small {0:.1f} MiB, small x4 {1:.1f} MiB, "
            "large {2:.1f} MiB".format(
                small["growth_mib"],
                bigger["growth_mib"],
                results["large"]["growth_mib"],
            )
        )
    return 0


if __name__ == "__main__":
    if "--worker" in sys.argv[1:]:
        sys.argv.remove("--worker")
        sys.exit(worker(sys.argv[1:]))
    sys.exit(main(sys.argv[1:]))
