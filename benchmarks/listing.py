#!/usr/bin/env python
"""Listings and record reads against their floor, in one run.

See ``benchmarks/README.rst``. One record of 1,000 files (plus a few
pending ones); through Flask's test client on the demo application:

- ``GET /records/<pid>/files?size=N`` for N = 100 and 1,000, against its
  floor: the same rows fetched with one SQL statement and written with
  ``json.dumps``;
- ``GET /records/<pid>`` (1,000 inline ``_files``), against the same floor
  for 1,000 rows.

Targets: **listing/floor <= 3** at both page sizes, **record/floor <= 3**.
SQLite by default; ``--database-uri postgresql://...`` for PostgreSQL.
"""

import io
import json
import os
import sys
import time
from typing import Any, Callable, Union, cast

from flask import Flask

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import Bench, demo_app

bench = Bench(
    full=dict(processes=4, values=5, warmups=1, loops=10),
    quick=dict(processes=1, values=2, warmups=1, loops=2),
)
bench.option(
    "--database-uri", help="SQLAlchemy URI (default: SQLite in the run's folder)"
)
bench.option("--files", type=int, help="files of the record (1000)")
_apps: list[Flask] = []
LIMIT = 3.0


def app() -> Flask:
    """The demo application of this process, on the run's database."""
    config: dict[str, Any] = dict(RECORDS_FILES_PROCESSORS=[])
    if bench.args.database_uri:
        config["SQLALCHEMY_DATABASE_URI"] = bench.args.database_uri
    _apps[:] = _apps or [demo_app(bench.workdir, **config)]
    return _apps[0]


def setup(count: int) -> None:
    """Create the record of ``count`` files; note its PID and bucket."""
    from invenio_db import db
    from invenio_pidstore.models import PersistentIdentifier

    from invenio_records_files_ext.api import Record

    with app().app_context():
        client = app().test_client()
        created = client.post("/records/", json={"title": "listing"})
        pid = cast(dict[str, Any], created.json)["id"]
        record_id = PersistentIdentifier.get("recid", pid).object_uuid
        record = Record.get_record(record_id)
        record.files.update(
            (f"data/{i:05d} part.csv", io.BytesIO(b"%d\n" % i)) for i in range(count)
        )
        db.session.commit()
        record.files[f"data/{0:05d} part.csv"]["description"] = "the first part"
        db.session.commit()
        bench.note("record", pid=pid, bucket=str(record.bucket.id))
        db.session.remove()
        db.engine.dispose()


def _record() -> dict[str, Any]:
    return bench.notes("record")[0]


def listing(loops: int, size: int) -> float:
    """``GET /records/<pid>/files?size=size``."""
    url = "/records/{0}/files?size={1}".format(_record()["pid"], size)
    return _get(loops, url, lambda body: len(body["contents"]) == size)


def record_read(loops: int) -> float:
    """``GET /records/<pid>`` with its inline ``_files``."""
    url = "/records/{0}".format(_record()["pid"])
    return _get(loops, url, lambda body: len(body["metadata"]["_files"]) >= 1000)


def _get(loops: int, url: str, check: Callable[[Any], bool]) -> float:
    client, total = app().test_client(), 0.0
    with app().app_context():
        response = client.get(url)
        assert response.status_code == 200 and check(response.json), response.data[:300]
        for _ in range(loops):
            started = time.perf_counter()
            response = client.get(url)
            total += time.perf_counter() - started
            assert response.status_code == 200
    return total


def floor(loops: int, size: int) -> float:
    """The page's rows with one SQL statement, written with ``json.dumps``."""
    import uuid

    from invenio_db import db

    from invenio_records_files_ext.files import queries

    bucket_id, total = uuid.UUID(_record()["bucket"]), 0.0
    with app().app_context():
        statement = queries.page_statement(bucket_id).limit(size + 1)
        for _ in range(loops):
            db.session.remove()
            started = time.perf_counter()
            rows = db.session.execute(statement).all()
            body = json.dumps([row._asdict() for row in rows], default=str)
            total += time.perf_counter() - started
            assert len(rows) == size + 1 or size >= 1000, len(rows)
            assert body
    return total


def main() -> None:
    """Run the benchmarks; print the targets."""
    args = bench.parse()
    count = args.files or 1000
    if bench.parent:
        setup(count)
    pages = (100, 1000)
    timed: dict[Union[str, tuple[str, int]], Any] = {}
    for size in pages:
        timed["listing", size] = bench.time(f"listing {size:,}", listing, size)
        timed["floor", size] = bench.time(f"floor {size:,}", floor, size)
    timed["record"] = bench.time("record read", record_read)
    if not bench.parent:
        return
    database = "PostgreSQL" if args.database_uri else "SQLite"
    print(f"Database: {database}; record of {count:,} files")
    for size in pages:
        bench.ratio(
            f"listing/floor at {size:,}",
            timed["listing", size],
            timed["floor", size],
            LIMIT,
        )
    bench.ratio(
        f"record read with {count:,} inline files/floor",
        timed["record"],
        timed["floor", 1000],
        LIMIT,
    )
    bench.finish()


if __name__ == "__main__":
    main()
