"""Fetch deadlines, retries and leases (issue 18, findings 3 and 11).

A slow source cannot outlast ``RECORDS_FILES_FETCH_TIMEOUT`` (every socket
read keeps to the deadline); ``RECORDS_FILES_FETCH_MAX_SIZE`` is bounded by
default; transient failures are retried by Celery (eager here: the retries
run at once); a fetch whose worker stopped renewing its lease is queued
again by the sweep, or failed with a clear message. The real worker killed
mid-fetch is in ``test_transfers_worker.py``.
"""

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import update

from invenio_records_files_ext.errors import TransferFailedError
from invenio_records_files_ext.models import FileTransfer
from invenio_records_files_ext.tasks.transfers import run_transfer_job
from invenio_records_files_ext.transfers import FETCHING, jobs
from invenio_records_files_ext.transfers.fetching import FetchLimits, open_url
from tests.helpers import (
    IsolatedClient,
    create_record,
    fetch_entry,
    files_url,
    init,
    stored_record,
)
from tests.httpserver import SourceServer

FETCH_MAX_RETRIES = 5
"""``tasks.transfers.FETCH_MAX_RETRIES`` (checked in the options test)."""

DRIP = b"d" * (16 * 400)  # 400 pieces, one per ``delay`` (0.05 s): 20 s in all


def _listed(client: IsolatedClient, pid: str) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for e in client.get(files_url(pid)).json["entries"]}


def test_a_slow_source_does_not_outlast_the_deadline(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_TIMEOUT", 1)
    fetching.add("drip-app.bin", DRIP)
    pid = create_record(client)
    init(client, pid, [fetch_entry(fetching.url("/slow/drip-app.bin"))])
    [entry] = _listed(client, pid).values()
    assert entry["status"] == "failed"
    assert "RECORDS_FILES_FETCH_TIMEOUT" in entry["transfer"]["error"]
    # Cut off at the deadline, not once the whole body had come.
    assert fetching.sent["drip-app.bin"] < len(DRIP)


def test_open_url_keeps_every_read_within_the_deadline(fetching: SourceServer) -> None:
    fetching.add("drip-unit.bin", DRIP)
    limits = FetchLimits(allowed_hosts=("127.0.0.1",), allow_private=True, timeout=1)
    with pytest.raises(TransferFailedError) as error:
        with open_url(fetching.url("/slow/drip-unit.bin"), limits) as body:
            while body.read(1024 * 1024):
                pass
    assert "RECORDS_FILES_FETCH_TIMEOUT" in error.value.message
    assert type(error.value).__name__ == "TransferFailedError"  # not transient
    assert fetching.sent["drip-unit.bin"] < len(DRIP)


def test_a_silent_source_times_out_per_read(
    fetching: SourceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetching, "delay", 1.0)
    fetching.add("silent.bin", b"s" * 64)
    limits = FetchLimits(
        allowed_hosts=("127.0.0.1",), allow_private=True, read_timeout=0.3
    )
    with pytest.raises(TransferFailedError) as error:
        with open_url(fetching.url("/slow/silent.bin"), limits) as body:
            while body.read():
                pass
    assert "RECORDS_FILES_FETCH_READ_TIMEOUT" in error.value.message
    assert type(error.value).__name__ == "TransientTransferError"


def test_fetch_max_size_has_a_bounded_default(app: Flask) -> None:
    assert app.config["RECORDS_FILES_FETCH_MAX_SIZE"] == 50 * 1024**3
    assert FetchLimits.from_config(app.config).max_size == 50 * 1024**3


def test_fetch_task_uses_celerys_retry_options() -> None:
    from invenio_records_files_ext.errors import TransientTransferError
    from invenio_records_files_ext.tasks import transfers

    assert transfers.FETCH_MAX_RETRIES == FETCH_MAX_RETRIES
    task = run_transfer_job
    assert TransientTransferError in task.autoretry_for
    assert task.retry_backoff and task.retry_jitter
    assert task.max_retries == FETCH_MAX_RETRIES
    assert task.acks_late and task.reject_on_worker_lost


def test_a_transient_failure_is_retried(
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetching, "failures", 2)
    fetching.add("flaky.bin", b"flaky" * 100)
    pid = create_record(client)
    init(client, pid, [fetch_entry(fetching.url("/flaky/flaky.bin"))])
    [entry] = _listed(client, pid).values()
    assert entry["status"] == "completed", entry
    assert client.get(files_url(pid, "f.bin", "content")).data == b"flaky" * 100
    assert fetching.requests.count("/flaky/flaky.bin") == 3


def test_retries_end_in_a_failure(
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetching, "failures", 100)
    fetching.add("down.bin", b"down")
    pid = create_record(client)
    init(client, pid, [fetch_entry(fetching.url("/flaky/down.bin"))])
    [entry] = _listed(client, pid).values()
    assert entry["status"] == "failed", entry
    assert "HTTP 503" in entry["transfer"]["error"]
    assert fetching.requests.count("/flaky/down.bin") == FETCH_MAX_RETRIES + 1
    assert stored_record(pid).files.bucket.size == 0


def _stalled_fetch(
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> str:
    """A fetch left ``fetching`` by a worker that stopped (its lease expired)."""
    fetching.add(name, b"resumed")
    pid = create_record(client)
    # No launcher: nothing starts the fetch; the test plays the lost worker.
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_LEASE", 60)
    with monkeypatch.context() as patch:
        patch.setattr("invenio_records_files_ext.transfers.launch._launcher", None)
        init(client, pid, [fetch_entry(fetching.url("/files/" + name))])
    long_ago = datetime.now(tz=timezone.utc) - timedelta(minutes=5)
    db.session.execute(update(FileTransfer).values(state=FETCHING, updated=long_ago))
    db.session.commit()
    return pid


def test_sweep_queues_a_lost_fetch_again(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = _stalled_fetch(client, db, fetching, app, monkeypatch, "lost.bin")
    assert _listed(client, pid)["f.bin"]["transfer"]["state"] == FETCHING
    handled = jobs.sweep()
    assert len(handled) == 1
    # Eager Celery: the fetch ran again once the sweep committed.
    assert _listed(client, pid)["f.bin"]["status"] == "completed"
    assert client.get(files_url(pid, "f.bin", "content")).data == b"resumed"
    assert jobs.sweep() == []


def test_sweep_fails_a_fetch_lost_too_often(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = _stalled_fetch(client, db, fetching, app, monkeypatch, "lost2.bin")
    monkeypatch.setitem(app.config, "RECORDS_FILES_FETCH_MAX_ATTEMPTS", 1)
    assert len(jobs.sweep()) == 1
    entry = _listed(client, pid)["f.bin"]
    assert entry["status"] == "failed"
    assert "The worker fetching this file stopped" in entry["transfer"]["error"]
    assert stored_record(pid).files.bucket.size == 0


def test_a_live_fetch_is_not_swept(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    fetching: SourceServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = _stalled_fetch(client, db, fetching, app, monkeypatch, "alive.bin")
    db.session.execute(
        update(FileTransfer).values(updated=datetime.now(tz=timezone.utc))
    )
    db.session.commit()
    assert jobs.sweep() == []
    assert _listed(client, pid)["f.bin"]["transfer"]["state"] == FETCHING
