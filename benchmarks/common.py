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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyperf
from flask import Flask

if TYPE_CHECKING:
    from tests.servers import Server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # examples/ and tests/
KIB, MIB = 1024, 1024 * 1024


class Bench:
    """A pyperf runner, its options handed on to workers, and its targets.

    ``full`` and ``quick`` (``--quick``) are pyperf settings: ``processes``,
    ``values``, ``warmups``, ``loops``.
    """

    def __init__(self, full: dict[str, Any], quick: dict[str, Any]) -> None:
        """Create the runner."""
        settings = quick if "--quick" in sys.argv else full
        self.runner = pyperf.Runner(add_cmdline_args=self._hand_on, **settings)
        self._options: list[argparse.Action] = []
        self.results: list[tuple[str, bool]] = []
        self.option("--quick", action="store_true", help="a short smoke run (CI)")
        self.option("--workdir", help=argparse.SUPPRESS)

    def option(self, *flags: str, **kwargs: Any) -> None:
        """Add a command line option, handed on to the workers too."""
        self._options.append(self.runner.argparser.add_argument(*flags, **kwargs))

    def _hand_on(self, cmd: list[str], args: argparse.Namespace) -> None:
        for action in self._options:
            value = getattr(args, action.dest)
            if value not in (None, False):
                cmd += [action.option_strings[0]] + [str(value)] * (value is not True)

    def parse(self) -> argparse.Namespace:
        """Parse the command line; the parent makes the work folder."""
        args: argparse.Namespace = self.runner.parse_args()
        self.args = args
        self.parent = not args.worker
        if self.parent:
            args.workdir = tempfile.mkdtemp(prefix="rfx-bench-")
        self.workdir: str = args.workdir
        return args

    def time(
        self, name: str, func: Callable[..., float], *args: Any, **settings: Any
    ) -> Any:
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

    def note(self, name: str, **figures: Any) -> None:
        """Leave figures for the parent."""
        with open(os.path.join(self.workdir, "notes.jsonl"), "a") as fp:
            fp.write(json.dumps(dict(figures, name=name)) + "\n")

    def notes(self, name: str) -> list[dict[str, Any]]:
        """The figures left under ``name``, oldest first."""
        with open(os.path.join(self.workdir, "notes.jsonl")) as fp:
            notes: list[dict[str, Any]] = [
                note for note in map(json.loads, fp) if note["name"] == name
            ]
            return notes

    def target(
        self, label: str, value: float, limit: float, at_least: bool = False
    ) -> None:
        """Print a figure, its target and PASS or FAIL."""
        ok = value >= limit if at_least else value <= limit
        self.results.append((label, ok))
        sign, verdict = ">=" if at_least else "<=", "PASS" if ok else "FAIL"
        print(f"{label}: {value:.2f}  target {sign} {limit:g}  {verdict}")

    def ratio(
        self, label: str, top: Any, bottom: Any, limit: float, at_least: bool = False
    ) -> None:
        """Check the ratio of two benchmarks' medians."""
        top, bottom = top.median(), bottom.median()
        label += f" ({top * 1000:,.1f} ms / {bottom * 1000:,.1f} ms)"
        self.target(label, top / bottom, limit, at_least)

    def finish(self) -> None:
        """Print the summary; remove the work folder."""
        failed = [label for label, ok in self.results if not ok]
        print(f"Summary: {len(failed)} of {len(self.results)} targets FAIL")
        shutil.rmtree(self.workdir, ignore_errors=True)


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes) and its core count."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def demo_app(workdir: str, **config: Any) -> Flask:
    """The demo application on a SQLite file and storage in ``workdir``."""
    from examples.app import create_app

    config.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{workdir}/db.sqlite")
    config.setdefault("FILES_STORAGE_PATH", os.path.join(workdir, "storage"))
    app: Flask = create_app(config, instance_path=os.path.join(workdir, "instance"))
    return app


def demo_env(workdir: str, **env: str) -> dict[str, str]:
    """The environment of ``demo_app``'s application, for other processes."""
    os.makedirs(os.path.join(workdir, "instance"), exist_ok=True)
    env.setdefault("SQLALCHEMY_DATABASE_URI", f"sqlite:///{workdir}/db.sqlite")
    env.setdefault("FILES_STORAGE_PATH", os.path.join(workdir, "storage"))
    return dict(env, DEMO_INSTANCE_PATH=os.path.join(workdir, "instance"))


def demo_server(
    workdir: str,
    target: str = "examples.app:create_app()",
    timeout: int = 900,
    kind: str = "gunicorn",
    **env: str,
) -> "Server":
    """``target`` (the demo) under gunicorn (one worker) or waitress, on
    ``demo_app``'s files."""
    from tests.servers import Server

    env = demo_env(workdir, **env)
    return Server(kind, env, workers=1, timeout=timeout, target=target)


def memory_kib(field: str = "VmRSS", pid: "int | str" = "self") -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as fp:
        return next(int(line.split()[1]) for line in fp if line.startswith(field))


def reset_peak(pid: "int | str" = "self") -> None:
    """Reset a process's peak resident memory (``VmHWM``) to its RSS now."""
    with open(f"/proc/{pid}/clear_refs", "w") as fp:
        fp.write("5")
