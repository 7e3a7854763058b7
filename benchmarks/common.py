"""Helpers shared by the benchmark scripts.

Statistics (medians, ratios of medians with the range of the paired ratios,
PASS/FAIL verdicts, plain text tables), the benchmark's own database (a
fresh SQLite file, or a schema of its own on PostgreSQL), the demo
application built for a benchmark, a meter of the SQL statements sent and
of the bytes they write, the resident memory of a process, and worker
processes that answer requests over a pipe (one JSON object a line).

This module imports neither this library nor Flask at import time: a
worker that must not load this library (the raw floor) can use it.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIB = 1024
MIB = 1024 * 1024


#
# Statistics and report
#
def median(values):
    """Return the median of a non-empty sequence."""
    return statistics.median(values)


def quantile(values, fraction):
    """Return the value at ``fraction`` (0 to 1) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


@dataclass
class Ratio:
    """Ratio of two medians, and the spread of the paired ratios.

    With a few runs the spread is the lowest and highest paired ratio;
    with many (``quartiles``), the first and third quartile, which a few
    runs disturbed by the machine's other work cannot stretch.
    """

    value: float
    low: float
    high: float

    @classmethod
    def of(cls, tops, bottoms, quartiles=False):
        """Compare two lists of timings taken in pairs (same round)."""
        pairs = [top / bottom for top, bottom in zip(tops, bottoms)]
        if quartiles:
            low, high = quantile(pairs, 0.25), quantile(pairs, 0.75)
        else:
            low, high = min(pairs), max(pairs)
        return cls(median(tops) / median(bottoms), low, high)

    def __str__(self):
        """Format as ``1.02 [0.95-1.10]``."""
        return "{0:.2f} [{1:.2f}-{2:.2f}]".format(self.value, self.low, self.high)


def verdict(ok):
    """Return ``PASS`` or ``FAIL``."""
    return "PASS" if ok else "FAIL"


def table(rows, indent="  "):
    """Return text lines: first column left-aligned, others right-aligned."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(cell).rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


@dataclass
class Targets:
    """The verdicts of a run, summed up on its last line."""

    results: list = field(default_factory=list)

    def check(self, name, ok):
        """Record one target; return its verdict."""
        self.results.append((name, ok))
        return verdict(ok)

    def summary(self):
        """Return the summary line."""
        failed = [name for name, ok in self.results if not ok]
        if failed:
            return "Summary: {0} of {1} targets FAIL: {2}".format(
                len(failed), len(self.results), "; ".join(failed)
            )
        return "Summary: all {0} targets PASS".format(len(self.results))


#
# Memory of a process (Linux /proc)
#
def _status_kib(name, pid="self"):
    with open("/proc/{0}/status".format(pid)) as fp:
        for line in fp:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError("no {0} in /proc/{1}/status".format(name, pid))


def rss_mib(pid="self"):
    """Resident memory of a process now, in MiB."""
    return _status_kib("VmRSS", pid) / 1024


def peak_rss_mib(pid="self"):
    """Peak resident memory of a process so far (``VmHWM``), in MiB."""
    return _status_kib("VmHWM", pid) / 1024


@dataclass
class Usage:
    """CPU and page faults of a process, and busy CPU of the machine, so far."""

    cpu: float
    """CPU seconds of the process (user and system, all threads)."""
    faults: int
    """Minor page faults of the process (new pages it touched)."""
    machine_busy: float
    """CPU seconds all cores of the machine spent busy."""
    machine_total: float
    """CPU seconds all cores of the machine existed."""

    @classmethod
    def of(cls, pid="self"):
        """Read ``/proc/<pid>/stat`` and ``/proc/stat`` now."""
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/{0}/stat".format(pid)) as fp:
            fields = fp.read().rsplit(")", 1)[1].split()
        with open("/proc/stat") as fp:
            machine = [int(value) for value in fp.readline().split()[1:]]
        idle = machine[3] + machine[4]
        return cls(
            (int(fields[11]) + int(fields[12])) / tick,
            int(fields[7]),
            (sum(machine) - idle) / tick,
            sum(machine) / tick,
        )

    def __sub__(self, before):
        """What was used between ``before`` and this reading."""
        return Usage(
            self.cpu - before.cpu,
            self.faults - before.faults,
            self.machine_busy - before.machine_busy,
            self.machine_total - before.machine_total,
        )


#
# The benchmark's database
#
class Database:
    """A fresh database: a SQLite file, or a new schema on PostgreSQL.

    ``uri`` of another database must name an empty one: the benchmark
    creates its tables there and drops them at the end.
    """

    def __init__(self, uri, folder):
        """Choose the URI; on PostgreSQL, create a schema of our own."""
        self.given = uri
        self.uri = uri or "sqlite:///" + os.path.join(folder, "bench.db")
        self.schema = None
        self.description = "SQLite, fresh file in a temporary folder"
        if uri:
            self.description = safe_uri(uri)
        if self.uri.startswith("postgres"):
            self.schema = "rfx_bench_" + uuid.uuid4().hex[:12]
            self._execute("CREATE SCHEMA " + self.schema)
            self.description += " (schema {0})".format(self.schema)

    @classmethod
    def existing(cls, uri, schema=None):
        """The database another process of the benchmark made."""
        database = cls.__new__(cls)
        database.given, database.uri, database.schema = uri, uri, schema
        database.description = safe_uri(uri)
        return database

    @property
    def engine_options(self):
        """``SQLALCHEMY_ENGINE_OPTIONS`` that put the tables in the schema."""
        if not self.schema:
            return {}
        return {
            "connect_args": {
                "options": "-c timezone=UTC -c search_path={0}".format(self.schema)
            }
        }

    def _execute(self, sql):
        from sqlalchemy import create_engine, text

        engine = create_engine(self.uri)
        try:
            with engine.begin() as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()

    def remove(self, drop_tables=None):
        """Drop the schema, or call ``drop_tables`` for a given database."""
        if self.schema:
            self._execute("DROP SCHEMA {0} CASCADE".format(self.schema))
        elif self.given and drop_tables is not None:
            drop_tables()


def safe_uri(uri):
    """Hide a password in a URI before printing it."""
    scheme, sep, rest = uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return scheme + sep + credentials + at + host


def demo_app(workdir, database, files_rest_routes=False, config=None):
    """Build the demo application on the benchmark's database and storage.

    :param files_rest_routes: make sure Invenio-Files-REST's own routes
        (``/files/<bucket_id>/<key>``) are mounted.
    """
    import sys

    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from examples.app import create_app

    settings = dict(
        SQLALCHEMY_DATABASE_URI=database.uri,
        FILES_STORAGE_PATH=os.path.join(workdir, "storage"),
    )
    if database.engine_options:
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = dict(
            database.engine_options, pool_pre_ping=True
        )
    settings.update(config or {})
    app = create_app(settings, instance_path=os.path.join(workdir, "instance"))
    if files_rest_routes and "invenio_files_rest" not in app.blueprints:
        from invenio_files_rest.views import blueprint

        app.register_blueprint(blueprint)
    return app


#
# SQL sent, and bytes written
#
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def value_bytes(value):
    """Size of one bound value as the database driver receives it.

    Text by its UTF-8 length, binary values by their length, numbers 8,
    booleans 1, ``None`` 0, anything else by the length of its text form.
    """
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 8
    return len(str(value).encode("utf-8"))


def parameters_bytes(parameters, executemany):
    """Sum the sizes of the bound values of one statement."""
    sets = parameters if executemany else [parameters]
    total = 0
    for values in sets or ():
        if isinstance(values, dict):
            values = values.values()
        total += sum(value_bytes(value) for value in values)
    return total


class SQLMeter:
    """Counts statements, and bytes written to some tables, while switched on.

    Listens to ``before_cursor_execute``: every statement sent counts
    (``BEGIN`` and savepoints included, a multi-row statement once). For
    ``INSERT`` and ``UPDATE`` statements on ``tables``, the sizes of their
    bound values (:func:`value_bytes`) are added up.
    """

    def __init__(self, engine, tables=()):
        """Listen on ``engine``."""
        from sqlalchemy import event

        self.tables = set(tables)
        self.active = False
        self.reset()
        event.listen(engine, "before_cursor_execute", self._seen)

    def reset(self):
        """Forget what was counted."""
        self.statements = 0
        self.kinds = Counter()
        self.written = Counter()

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if not self.active:
            return
        self.statements += 1
        words = statement.lstrip()[:16].split(None, 1)
        self.kinds[words[0].upper() if words else "?"] += 1
        match = _WRITE.match(statement)
        if match and match.group(1) in self.tables:
            self.written[match.group(1)] += parameters_bytes(parameters, executemany)

    def __enter__(self):
        """Start counting from zero."""
        self.reset()
        self.active = True
        return self

    def __exit__(self, *exc):
        """Stop counting."""
        self.active = False

    @property
    def bytes_written(self):
        """Bytes written to the watched tables."""
        return sum(self.written.values())


#
# Worker processes: one JSON object a line on stdin/stdout
#
class WorkerError(RuntimeError):
    """A worker process failed."""


def serve(start, handle):
    """Run a worker: ``start()`` once, then answer each request with ``handle``.

    ``start`` returns a dict sent to the parent when ready; ``handle(request)``
    returns the result of one request. Whatever libraries print goes to
    stderr: stdout carries the answers only.
    """
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(message):
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    try:
        reply({"ok": True, "result": start()})
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        traceback.print_exc()
        reply({"ok": False, "error": "{0}: {1}".format(type(exc).__name__, exc)})
        return 1
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("op") == "quit":
            break
        try:
            reply({"ok": True, "result": handle(request)})
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            traceback.print_exc()
            reply({"ok": False, "error": "{0}: {1}".format(type(exc).__name__, exc)})
    return 0


class Worker:
    """A worker process started by the parent, and its pipe."""

    def __init__(self, name, command, log_path):
        """Start ``command``; :meth:`ready` waits for its start-up answer."""
        self.name = name
        self.log_path = log_path
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
                "{0} worker died:\n{1}".format(self.name, self.log_tail())
            )
        message = json.loads(line)
        if not message.get("ok"):
            raise WorkerError(
                "{0} worker: {1}\n{2}".format(
                    self.name, message.get("error"), self.log_tail()
                )
            )
        return message["result"]

    def ready(self):
        """Wait until the worker has started; return what it said."""
        return self._receive()

    def call(self, **request):
        """Send one request and return its result."""
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._receive()

    def log_tail(self, lines=30):
        """Return the end of the worker's stderr."""
        self._log.flush()
        try:
            with open(self.log_path) as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """Ask the worker to quit; kill it (by its pid) if it does not."""
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()
