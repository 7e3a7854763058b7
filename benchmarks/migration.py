#!/usr/bin/env python
"""The Alembic data migration of ``_files`` into rows: time, statements, memory.

See ``benchmarks/README.rst``. The parent builds, with plain SQL, a SQLite
database per scenario at the revision before the migration, holding
records in invenio-records-files' layout; each worker upgrades a copy.
"""

import logging
import os
import shutil
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import Bench, memory_kib, reset_peak

bench = Bench(
    full=dict(processes=2, values=1, warmups=0, loops=1),
    quick=dict(processes=1, values=1, warmups=0, loops=1),
)
bench.option("--records", type=int, help="N records of F files (2000)")
bench.option("--files", type=int, help="F (10)")
bench.option("--big", type=int, help="files of the large record (100000)")
BEFORE = "5e8a91d2c0f7"
DEPENDENCIES = ["invenio_files_rest@head", "invenio_records@head"]
logging.getLogger("alembic").setLevel(logging.WARNING)


def make_app(path: str) -> "Flask":
    """The smallest application the migration needs, on a SQLite file."""
    from flask import Flask
    from invenio_db import InvenioDB
    from invenio_files_rest import InvenioFilesREST
    from invenio_records import InvenioRecords

    from invenio_records_files_ext import InvenioRecordsFiles

    app = Flask("bench-migration")
    app.config.update(
        SQLALCHEMY_DATABASE_URI="sqlite:///" + path, DB_VERSIONING_USER_MODEL=None
    )
    for extension in (InvenioDB, InvenioRecords, InvenioFilesREST, InvenioRecordsFiles):
        extension(app)
    return app


def record_rows(files: int) -> tuple[list[dict[str, Any]], ...]:
    """Rows of one record of ``files`` files in the original layout: buckets,
    file instances, object versions, records, links."""
    bucket, record = uuid.uuid4(), uuid.uuid4()
    rows: tuple[list[dict[str, Any]], ...] = (
        [dict(id=bucket, default_location=1)],
        [],
        [],
        [],
        [],
    )
    entries: list[dict[str, Any]] = []
    for index in range(files):
        file, version = uuid.uuid4(), uuid.uuid4()
        key, checksum = f"data/{index:06d}.csv", f"md5:{index:032x}"
        rows[1].append(dict(id=file, uri=file.hex, size=1024, checksum=checksum))
        rows[2].append(
            dict(version_id=version, key=key, bucket_id=bucket, file_id=file)
        )
        entry = dict(key=key, bucket=str(bucket), checksum=checksum, size=1024)
        entries.append(dict(entry, version_id=str(version), file_id=str(file)))
    json = dict(title="bench", _bucket=str(bucket), _files=entries)
    rows[3].append(dict(id=record, version_id=1, json=json))
    rows[4].append(dict(record_id=record, bucket_id=bucket))
    return rows


def build(path: str, records: int, files: int) -> None:
    """A database at ``BEFORE`` holding ``records`` records of ``files`` files."""
    from invenio_db import db
    from invenio_files_rest.models import Bucket, FileInstance, Location, ObjectVersion
    from invenio_records.models import RecordMetadata

    from invenio_records_files_ext.models import RecordsBuckets

    models = (Bucket, FileInstance, ObjectVersion, RecordMetadata, RecordsBuckets)
    app = make_app(path)
    with app.app_context():
        # Invenio's own recipes ALTER constraints, which SQLite cannot do.
        # This package's tables come from its own recipes.
        tables = [
            t
            for t in db.metadata.sorted_tables
            if t.name != "records_buckets" and not t.name.startswith("records_files_")
        ]
        db.metadata.create_all(db.engine, tables=tables)
        app.extensions["invenio-db"].alembic.stamp(DEPENDENCIES)
        app.extensions["invenio-db"].alembic.upgrade(DEPENDENCIES + [BEFORE])
        with db.engine.begin() as connection:
            location = dict(id=1, name="bench", uri="/nowhere", default=True)
            connection.execute(Location.__table__.insert(), [location])
            batch = max(1, 5000 // files)  # records per round of inserts
            for start in range(0, records, batch):
                rows = [record_rows(files) for _ in range(min(batch, records - start))]
                for index, model in enumerate(models):  # parents first
                    found = [row for record in rows for row in record[index]]
                    connection.execute(model.__table__.insert(), found)


def upgrade(loops: int, scenario: str) -> float:
    """Upgrade a copy of the scenario's database; note statements and memory."""
    from invenio_db import db
    from sqlalchemy import event

    path = os.path.join(bench.workdir, "copy.sqlite")
    shutil.copy(os.path.join(bench.workdir, scenario + ".sqlite"), path)
    app = make_app(path)
    with app.app_context():
        statements: list[int] = []
        count = lambda *args: statements.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", count)
        reset_peak()
        before = memory_kib()
        started = time.perf_counter()
        app.extensions["invenio-db"].alembic.upgrade("invenio_records_files_ext@head")
        seconds = time.perf_counter() - started
        growth = memory_kib("VmHWM") - before
        bench.note(scenario, statements=len(statements), growth_mib=growth / 1024)
        db.engine.dispose()
    os.remove(path)
    return seconds


def main() -> None:
    """Build the databases, time the upgrades, print figures and targets."""
    args = bench.parse()
    n, f, big = (100, 5, 5000) if args.quick else (2000, 10, 100000)
    n, f, big = args.records or n, args.files or f, args.big or big
    scenarios = dict(small=(n, f), small_x4=(4 * n, f), large=(1, big))
    times = {}
    for scenario, (records, files) in scenarios.items():
        if bench.parent:
            build(os.path.join(bench.workdir, scenario + ".sqlite"), records, files)
        times[scenario] = bench.time("upgrade " + scenario, upgrade, scenario)
    if not bench.parent:
        return
    growth = {}
    for name, (records, files) in scenarios.items():
        notes = bench.notes(name)
        growth[name] = max(note["growth_mib"] for note in notes)
        ms = times[name].median() * 1e6 / (records * files)
        print(
            f"{name}: {records:,} records of {files:,} files: {ms:.1f} ms per "
            f"1,000 rows, {notes[0]['statements']} statements, "
            f"memory growth {growth[name]:.1f} MiB"
        )
    bench.ratio("time small_x4/small", times["small_x4"], times["small"], 5)
    flat = growth["small_x4"] - growth["small"]
    bench.target("memory growth small_x4 - small (MiB)", flat, 4)
    bench.finish()


if __name__ == "__main__":
    main()
