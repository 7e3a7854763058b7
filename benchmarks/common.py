"""What the benchmark scripts share: a pyperf runner that checks targets.

A script makes a :class:`Bench`, adds its options, sets up what its
contenders need in the parent (``bench.parent``), then times each with
:meth:`Bench.time`: pyperf runs it in worker processes of its own (which
re-run the script, skipping the set-up) and hands its statistics to the
parent, which checks the targets. Workers find the set-up in
``bench.workdir`` and leave figures other than time with :meth:`Bench.note`.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import pyperf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # examples/ and tests/
KIB, MIB = 1024, 1024 * 1024


class Bench:
    """A pyperf runner, its options handed on to workers, and its targets.

    ``full`` and ``quick`` (``--quick``) are pyperf settings: ``processes``,
    ``values``, ``warmups``, ``loops``.
    """

    def __init__(self, full: dict, quick: dict) -> None:
        """Create the runner."""
        settings = quick if "--quick" in sys.argv else full
        self.runner = pyperf.Runner(add_cmdline_args=self._hand_on, **settings)
        self._options, self.results = [], []
        self.option("--quick", action="store_true", help="a short smoke run (CI)")
        self.option("--workdir", help=argparse.SUPPRESS)

    def option(self, *flags, **kwargs) -> None:
        """Add a command line option, handed on to the workers too."""
        self._options.append(self.runner.argparser.add_argument(*flags, **kwargs))

    def _hand_on(self, cmd, args) -> None:
        for action in self._options:
            value = getattr(args, action.dest)
            if value not in (None, False):
                cmd += [action.option_strings[0]] + [str(value)] * (value is not True)

    def parse(self):
        """Parse the command line; the parent makes the work folder."""
        self.args = self.runner.parse_args()
        self.parent = not self.args.worker
        if self.parent:
            self.args.workdir = tempfile.mkdtemp(prefix="rfx-bench-")
        self.workdir = self.args.workdir
        return self.args

    def time(self, name, func, *args, **settings):
        """Time ``func(loops, *args)``, which returns the seconds it measured.

        ``settings`` override the runner's for this benchmark. Returns a
        :class:`pyperf.Benchmark` in the parent, ``None`` in a worker.
        """
        saved = {key: getattr(self.args, key) for key in settings}
        vars(self.args).update(settings if self.parent else {})
        if self.parent:
            print(f"[{name}] load before: {load()}", flush=True)
        try:
            return self.runner.bench_time_func(name, func, *args)
        finally:
            vars(self.args).update(saved)
            if self.parent:
                print(f"[{name}] load after: {load()}", flush=True)

    def note(self, name, **figures) -> None:
        """Leave figures for the parent."""
        with open(os.path.join(self.workdir, "notes.jsonl"), "a") as fp:
            fp.write(json.dumps(dict(figures, name=name)) + "\n")

    def notes(self, name):
        """The figures left under ``name``, oldest first."""
        with open(os.path.join(self.workdir, "notes.jsonl")) as fp:
            return [note for note in map(json.loads, fp) if note["name"] == name]

    def target(self, label, value, limit, at_least=False) -> None:
        """Print a figure, its target and PASS or FAIL."""
        ok = value >= limit if at_least else value <= limit
        self.results.append((label, ok))
        sign, verdict = ">=" if at_least else "<=", "PASS" if ok else "FAIL"
        print(f"{label}: {value:.2f}  target {sign} {limit:g}  {verdict}")

    def ratio(self, label, top, bottom, limit, at_least=False) -> None:
        """Check the ratio of two benchmarks' medians."""
        top, bottom = top.median(), bottom.median()
        label += f" ({top * 1000:,.1f} ms / {bottom * 1000:,.1f} ms)"
        self.target(label, top / bottom, limit, at_least)

    def finish(self) -> None:
        """Print the summary; remove the work folder."""
        failed = [label for label, ok in self.results if not ok]
        print(f"Summary: {len(failed)} of {len(self.results)} targets FAIL")
        shutil.rmtree(self.workdir, ignore_errors=True)


def load():
    """The machine's load averages (1, 5, 15 minutes) and its core count."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def demo_app(workdir, **config):
    """The demo application on a SQLite file and storage in ``workdir``."""
    from examples.app import create_app

    config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{workdir}/db.sqlite")
    config.setdefault("FILES_STORAGE_PATH", os.path.join(workdir, "storage"))
    return create_app(config, instance_path=os.path.join(workdir, "instance"))


def demo_env(workdir, **env):
    """The environment of ``demo_app``'s application, for other processes."""
    os.makedirs(os.path.join(workdir, "instance"), exist_ok=True)
    env.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{workdir}/db.sqlite")
    env.setdefault("FILES_STORAGE_PATH", os.path.join(workdir, "storage"))
    return dict(env, DEMO_INSTANCE_PATH=os.path.join(workdir, "instance"))


def demo_server(
    workdir, target="examples.app:create_app()", timeout=900, kind="gunicorn", **env
):
    """``target`` (the demo) under gunicorn (one worker) or waitress, on
    ``demo_app``'s files."""
    from tests.servers import Server

    env = demo_env(workdir, **env)
    return Server(kind, env, workers=1, timeout=timeout, target=target)


def memory_kib(field="VmRSS", pid="self"):
    """``VmRSS`` (resident now) or ``VmHWM`` (peak) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as fp:
        return next(int(line.split()[1]) for line in fp if line.startswith(field))


def reset_peak(pid="self") -> None:
    """Reset a process's peak resident memory (``VmHWM``) to its RSS now."""
    with open(f"/proc/{pid}/clear_refs", "w") as fp:
        fp.write("5")
