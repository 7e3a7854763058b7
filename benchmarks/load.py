#!/usr/bin/env python
"""Uploads to one record against the same load spread over fifty, with readers.

See ``benchmarks/README.rst``. The demo under gunicorn (4 sync workers) on
PostgreSQL; fifty clients each upload ``--uploads`` small files (1-8 KiB),
to one shared record or each to a record of its own, and every fifth upload
each lists its record's files. The layouts run interleaved (spread, one,
one, spread); the figure is the uploads per second to one record as a
share of those spread over fifty (``tests/loadphases.py``, which the load
test in ``tests/test_load.py`` runs too).

Two kinds of readers, each run on records of its own:

- *watchers* read what the deposit page reads, the first page of 100
  files: target **one record / spread >= 0.8**;
- *default page* readers ask for no size and read up to 1,000 entries per
  poll (``RECORDS_FILES_LISTING_PAGE_SIZE``): printed beside, no target, with
  the CPU seconds each process group spent, which show what those reads cost.

PostgreSQL: a server of the run's own (``scripts/postgres.sh``, Debian's
``postgresql``), or ``--database-uri``. ``--quick`` uploads 5 files per
client and checks nothing but that it runs.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import ROOT, demo_env, load
from tests.loadphases import SHARED_WRITERS, Uploads, compare_layouts
from tests.loadtools import Client, Recorder, md5
from tests.servers import Server, free_port

TARGET = 0.8
WORKERS = 4


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-uri", help="PostgreSQL URI (default: own server)")
    parser.add_argument("--uploads", type=int, default=20, help="per client (20)")
    parser.add_argument("--quick", action="store_true", help="5 uploads per client")
    parser.add_argument("-q", action="store_true", help="accepted, as pyperf's")
    return parser.parse_args()


POSTGRES = os.path.join(ROOT, "scripts", "postgres.sh")


def _postgres(folder: str) -> str:
    # A folder of its own: the script hands it to the postgres user.
    started = subprocess.run(
        [POSTGRES, "start", folder, str(free_port())], capture_output=True, text=True
    )
    if started.returncode == 3:
        # scripts/postgres.sh: this machine cannot run a server (no root or
        # no apt-get to install Debian's postgresql).
        print("Skipped: no PostgreSQL server can be started here.")
        sys.exit(0)
    if started.returncode != 0:
        log = os.path.join(folder, "initdb.log")
        details = open(log).read() if os.path.exists(log) else started.stderr
        sys.exit("No PostgreSQL server could be started:\n" + details)
    return started.stdout.strip().splitlines()[-1]


def _run(
    url: str, uploads: Uploads, per_client: int, page_size: Optional[int], tag: str
) -> float:
    setup = Client(url, uploads.recorder)
    shared = setup.create_record()
    own = [setup.create_record() for _ in range(SHARED_WRITERS)]
    setup.close()
    kind = "watchers (first {0})".format(page_size) if page_size else "default page"
    print(f"[{kind}] load before: {load()}")
    compared = compare_layouts(url, uploads, shared, own, per_client, page_size, tag)
    print(f"[{kind}] load after: {load()}")
    for line in compared.lines():
        print(f"[{kind}]{line}")
    return compared.ratio


def main() -> None:
    """Run both readers' comparisons; print the ratios and the target."""
    args = _arguments()
    per_client = 5 if args.quick else args.uploads
    workdir = tempfile.mkdtemp(prefix="rfx-load-")
    postgres = tempfile.mkdtemp(prefix="rfx-load-postgres-")
    uri = args.database_uri or _postgres(postgres)
    env = demo_env(workdir, SQLALCHEMY_DATABASE_URI=uri)
    server = Server("gunicorn", env, workers=WORKERS, timeout=120)
    uploads = Uploads(Recorder())
    try:
        warm = Client(server.url, uploads.recorder)
        record = warm.create_record()
        for number in range(2 * WORKERS):
            data = os.urandom(4096)
            warm.upload(record, "warm-{0}".format(number), data, md5(data))
        warm.close()
        watchers = _run(server.url, uploads, per_client, 100, "w")
        default = _run(server.url, uploads, per_client, None, "d")
    finally:
        server.stop()
        subprocess.run([POSTGRES, "stop", postgres], check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    errors = uploads.recorder.server_errors()
    print(
        f"PostgreSQL, gunicorn with {WORKERS} sync workers; {SHARED_WRITERS} clients "
        f"x {per_client} uploads, listing every fifth"
    )
    print(f"server errors: {len(errors)}; problems: {uploads.problems.found[:5]}")
    verdict = "PASS" if watchers >= TARGET else "FAIL"
    print(
        f"one record / spread, watchers reading 100: {watchers:.2f}  "
        f"target >= {TARGET:g}  {verdict}"
    )
    print(f"one record / spread, readers of the default page: {default:.2f}  (printed)")
    failed = int(watchers < TARGET)
    print(f"Summary: {failed} of 1 targets FAIL")


if __name__ == "__main__":
    main()
