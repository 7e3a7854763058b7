#!/usr/bin/env python
"""Attaching many small files: one by one and in bulk, against Files-REST alone.

See ``benchmarks/README.rst``. Each contender runs in worker processes of
its own: ``raw`` (and ``original``, when ``invenio_records_files`` is
importable) never loads this library.
"""

import gc
import importlib
import os
import sys
import time
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from io import BytesIO
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import Bench

bench = Bench(
    full=dict(processes=3, values=2, warmups=0, loops=1),
    quick=dict(processes=1, values=1, warmups=0, loops=1),
)
bench.option("--sizes", help="files per run (100,400,1600); bulk: the largest")
PACKAGES = {"ours": "invenio_records_files_ext", "original": "invenio_records_files"}


def make_app(kind: str) -> "Flask":
    """Invenio-DB (versioning on), Invenio-Files-REST and, unless ``raw``,
    Invenio-Records and the records-files module of ``kind``."""
    from flask import Flask
    from invenio_db import InvenioDB, db
    from invenio_files_rest import InvenioFilesREST, models

    extensions = [InvenioFilesREST]
    if kind != "raw":  # models first: Invenio-DB versions those it knows
        from invenio_records import InvenioRecords, models  # noqa: F401

        importlib.import_module(PACKAGES[kind] + ".models")
        extensions += [InvenioRecords, importlib.import_module(PACKAGES[kind])]
    app = Flask("bench-" + kind)
    uri = f"sqlite:///{bench.workdir}/db.sqlite"
    app.config.update(SQLALCHEMY_DATABASE_URI=uri, DB_VERSIONING_USER_MODEL=None)
    # Not init_app: it would import every Alembic branch, this library's too.
    app.extensions["invenio-db"] = InvenioDB()
    app.extensions["invenio-db"].init_db(app, entry_point_group=False)
    for extension in extensions:
        getattr(extension, "InvenioRecordsFiles", extension)(app)
    # The demo's SQLite set-up, from this library's module loaded on its own.
    ours = find_spec(PACKAGES["ours"])
    assert ours is not None and ours.submodule_search_locations  # installed
    path = os.path.join(ours.submodule_search_locations[0])
    spec = spec_from_file_location("_bench_sqlite", path + "/db/sqlite.py")
    assert spec is not None and spec.loader is not None  # a file of the package
    spec.loader.exec_module(sqlite := module_from_spec(spec))
    with app.app_context():
        sqlite.enable_sqlite_savepoints(db.engine, wal=True)
    return app


def attach(loops: int, contender: str, count: int) -> float:
    """Attach ``count`` files of 1 KiB to a new bucket or record; commit."""
    from invenio_db import db
    from invenio_files_rest.models import Bucket, ObjectVersion

    kind = "ours" if contender == "bulk" else contender
    with make_app(kind).app_context():
        if kind != "ours" and "invenio_records_files_ext.db.ledger" in sys.modules:
            raise RuntimeError("this library was loaded into " + kind)
        api = kind != "raw" and importlib.import_module(PACKAGES[kind] + ".api")

        def run(count: int) -> float:
            target = api.Record.create({}) if api else Bucket.create()
            db.session.commit()
            files = {f"f{i:05d}": b"%1023d\n" % i for i in range(count)}
            gc.collect()
            started = time.perf_counter()
            if contender == "bulk":
                target.files.update({k: BytesIO(v) for k, v in files.items()})
            for key, data in files.items() if contender != "bulk" else ():
                if api:
                    target.files[key] = BytesIO(data)
                else:
                    ObjectVersion.create(target, key, stream=BytesIO(data))
            if contender == "original":
                target.commit()
            db.session.commit()
            seconds = time.perf_counter() - started
            bucket = target.bucket if api else target
            assert len(ObjectVersion.get_by_bucket(bucket).all()) == count
            db.session.remove()
            return seconds

        run(5)  # warm-up
        return sum(run(count) for _ in range(loops))


def main() -> None:
    """Run the benchmarks; print the targets."""
    args = bench.parse()
    sizes = [int(n) for n in (args.sizes or "100,400,1600").split(",")]
    sizes = [10, 50] if args.quick and not args.sizes else sizes
    if bench.parent:
        from invenio_db import db
        from invenio_files_rest.models import Location

        with make_app("ours").app_context():
            db.create_all()
            uri = os.path.join(bench.workdir, "storage")
            db.session.add(Location(name="bench", uri=uri, default=True))
            db.session.commit()
    who = ["raw", "ours"] + ["original"] * bool(find_spec(PACKAGES["original"]))
    runs: dict[Any, Any] = {}
    for n in sizes:
        for contender in who:
            runs[contender, n] = bench.time(f"{contender} {n:,}", attach, contender, n)
    large = sizes[-1]
    runs["bulk"] = bench.time(f"bulk {large:,}", attach, "bulk", large)
    if not bench.parent:
        return
    for n in sizes:
        bench.ratio(
            f"one by one ours/raw at {n:,}", runs["ours", n], runs["raw", n], 1.3
        )
        if "original" in who:
            ours, original = runs["ours", n].median(), runs["original", n].median()
            print(f"  ours/original at {n:,}: {ours / original:.2f}")
    bulk = f"raw one by one/bulk at {large:,}"
    bench.ratio(bulk, runs["raw", large], runs["bulk"], 3, at_least=True)
    bench.finish()


if __name__ == "__main__":
    main()
