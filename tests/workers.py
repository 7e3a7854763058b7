"""Real Celery workers for the tests: processes of ``tests/worker_app.py`` on Redis.

A worker is the demo application (``examples/app.py``) configured through
``RFX_WORKER_CONFIG`` (JSON) on the suite's database, fed by a Redis
broker. :func:`broker_for` makes the test application send its tasks
through the same broker instead of running them eagerly.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask

from tests.servers import stop_process_group

T = TypeVar("T")


def _forget_connections(celery: Any) -> None:
    """Drop the connections pooled for the broker used before.

    Celery keeps its producers' pool once made, even when the broker
    setting changes (and ``close()`` leaves it when no connection pool is
    open): without this the task would go to the earlier broker.
    """
    celery.close()
    celery.amqp._producer_pool = None


@contextmanager
def broker_for(app: Flask, redis_url: str) -> Iterator[Any]:
    """Send ``app``'s Celery tasks through ``redis_url`` inside the block."""
    celery = app.extensions["flask-celeryext"].celery
    saved = dict(
        task_always_eager=celery.conf.task_always_eager,
        broker_url=celery.conf.broker_url,
    )
    celery.conf.update(task_always_eager=False, broker_url=redis_url)
    _forget_connections(celery)
    try:
        yield celery
    finally:
        celery.conf.update(**saved)
        _forget_connections(celery)


def purge(app: Flask, redis_url: str) -> None:
    """Drop the tasks waiting in the broker (left by an earlier test's beat)."""
    with broker_for(app, redis_url) as celery:
        celery.control.purge()


class Worker:
    """A Celery worker process; its log is kept in ``folder``."""

    def __init__(
        self,
        config: Mapping[str, Any],
        folder: str,
        name: str,
        beat: bool = False,
        loglevel: str = "INFO",
    ) -> None:
        """Start the worker (one task at a time, prefetching one)."""
        os.makedirs(folder, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(folder, "{0}.log".format(name))
        env = dict(
            os.environ,
            RFX_WORKER_CONFIG=json.dumps(config),
            RFX_WORKER_INSTANCE=os.path.join(folder, name),
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.worker_app:celery",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--prefetch-multiplier=1",
            "--loglevel={0}".format(loglevel),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            "rfx-{0}-{1}@localhost".format(name, os.getpid()),
        ]
        if beat:
            command += ["--beat", "-s", os.path.join(folder, name + "-beat")]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        """Return what the worker has logged so far."""
        with open(self.log_path, errors="replace") as fp:
            return fp.read()

    def alive(self) -> bool:
        """Return whether the process still runs."""
        return self.process.poll() is None

    def wait_ready(self, seconds: float = 60) -> "Worker":
        """Wait until the worker says it is ready to take tasks."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.alive(), "worker {0} exited:\n{1}".format(
                self.name, self.log()[-4000:]
            )
            if " ready." in self.log():
                return self
            time.sleep(0.2)
        raise AssertionError("worker {0} never got ready".format(self.name))

    def stop(self) -> None:
        """Stop the process; print the end of its log (pytest shows it on failure)."""
        stop_process_group(self.process)
        self._log.close()
        print("--- worker {0} ---\n{1}".format(self.name, self.log()[-4000:]))


def worker_config(database_uri: str, redis_url: str, **extra: Any) -> dict[str, Any]:
    """Return the configuration of a worker on the suite's database and broker."""
    return dict(
        SQLALCHEMY_DATABASE_URI=database_uri,
        CELERY_BROKER_URL=redis_url,
        CELERY_TASK_ALWAYS_EAGER=False,
        **extra,
    )


def wait_until(
    condition: Callable[[], T],
    seconds: float = 90,
    workers: Iterable["Worker"] = (),
    pause: float = 0.3,
) -> T:
    """Wait until ``condition()`` is true, failing if a worker exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.alive(), "worker {0} exited".format(worker.name)
        value = condition()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError("the condition was not met in {0} s".format(seconds))
