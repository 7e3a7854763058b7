"""Start the demo application under real WSGI servers, on loopback."""

import os
import socket
import subprocess
import sys
import time
from typing import Any

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


DEMO = "examples.app:create_app()"
"""Gunicorn's name of the demo application."""


def server_command(
    kind: str, port: int, workers: int = 2, timeout: int = 60, target: str = DEMO
) -> list[str]:
    """Return the command line that serves ``target`` (the demo) with ``kind``."""
    if kind == "gunicorn":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            "127.0.0.1:{0}".format(port),
            "--timeout",
            str(timeout),
            "--graceful-timeout",
            "5",
            # Create the app (and its tables and location) once, before the
            # workers fork: no worker then initialises the database while a
            # test is already using it.
            "--preload",
            target,
        ]
    if kind == "waitress":
        # waitress calls a factory: "module:function", without the call.
        # Socket reads of 1 MiB, as docs/site.rst advises (8 KiB by default).
        return [
            sys.executable,
            "-m",
            "waitress",
            "--listen=127.0.0.1:{0}".format(port),
            "--recv-bytes=1048576",
            "--call",
            target.removesuffix("()"),
        ]
    raise ValueError(kind)


class Server:
    """A running WSGI server process serving the demo application.

    ``target`` and ``ready_path`` serve another application: its module
    path (``module:factory()``) and a URL path it answers once started.
    """

    def __init__(
        self,
        kind: str,
        env: dict[str, str],
        workers: int = 2,
        timeout: int = 60,
        target: str = DEMO,
        ready_path: str = "/records/0/files",
        port: "int | None" = None,
    ) -> None:
        """Start the server and wait until it answers."""
        self.ready_path = ready_path
        self.kind = kind
        self.port = port or free_port()
        self.url = "http://127.0.0.1:{0}".format(self.port)
        self.log_path = os.path.join(env["DEMO_INSTANCE_PATH"], "{0}.log".format(kind))
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            server_command(
                kind, self.port, workers=workers, timeout=timeout, target=target
            ),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(self.log_path) as log:
                    raise RuntimeError("{0} exited:\n{1}".format(self.kind, log.read()))
            try:
                requests.get(self.url + self.ready_path, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("{0} did not start".format(self.kind))

    def worker_pids(self) -> list[int]:
        """Return the pids of the server's worker processes."""
        output = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in output.split()]

    def logs(self) -> str:
        """Return what the server printed."""
        self.log.flush()
        with open(self.log_path, "rb") as fp:
            return fp.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop the server and its workers."""
        stop_process_group(self.process)
        self.log.close()


def stop_process_group(process: "subprocess.Popen[Any]", grace: float = 10) -> None:
    """Stop a process started in a session of its own, and its children."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(grace)
