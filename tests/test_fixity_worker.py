"""The fixity audit run by real Celery workers, through a real Redis broker.

Celery beat (embedded in the worker, ``--beat``) sends the audit every
second; the bytes are changed behind the library's back, on disk and on
the S3 server (through boto3). Two workers share one audit without
checking a file twice. The broker is conftest's ``redis_url``; the worker
processes are ``tests/workers.py``'s.
"""

import ast
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

import pytest
from click.testing import Result
from flask import Flask
from invenio_db import db
from invenio_files_rest.models import FileInstance, Location
from sqlalchemy import func, select

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.maintenance import fixity
from invenio_records_files_ext.tasks.fixity import audit_fixity
from tests.helpers import (
    BucketRecord,
    backdate_files,
    corrupt_local,
    corrupt_s3,
    stream,
)
from tests.s3server import MotoServer
from tests.workers import Worker, broker_for, purge, wait_until, worker_config

DAY = 24 * 3600
BEAT = {
    "records-files-fixity": {
        "task": "invenio_records_files_ext.tasks.fixity.audit_fixity",
        "schedule": 1.0,
    }
}
Checks = dict[uuid.UUID, tuple[Optional[bool], Optional[datetime]]]
"""Each file instance's ``(last_check, last_check_at)``, by id."""

SUCCEEDED = re.compile(r"check_fixity\[[^\]]+\] succeeded in [^:]+: (\{.*\})")


def add_files(record: BucketRecord, count: int, data: bytes) -> dict[str, Any]:
    """Store ``count`` files in ``record``; commit; return the file instances."""
    for index in range(count):
        record.files["f{0:03d}.bin".format(index)] = stream(data + bytes([index % 256]))
    record.commit()
    db.session.commit()
    record = Record.get_record(record.id)
    return {fileobj.key: fileobj.obj.file for fileobj in record.files}


def checks() -> Checks:
    """Return ``{file id: (last_check, last_check_at)}``, fresh from the database."""
    db.session.expire_all()
    rows = db.session.execute(
        select(FileInstance.id, FileInstance.last_check, FileInstance.last_check_at)
    ).all()
    db.session.rollback()
    return {row[0]: (row[1], row[2]) for row in rows}


def all_checked(since: datetime) -> Callable[[], Optional[Checks]]:
    """A condition: every file instance read back after ``since``."""

    def condition() -> Optional[Checks]:
        found = checks()
        return found if all(at and at > since for _, at in found.values()) else None

    return condition


def audits_run(worker: Worker) -> int:
    """How many beat-sent audits the worker has run."""
    return worker.log().count("tasks.fixity.audit_fixity[")


def summaries(worker: Worker) -> list[dict[str, int]]:
    """The counts each ``check_fixity`` task of ``worker`` returned."""
    return [ast.literal_eval(found) for found in SUCCEEDED.findall(worker.log())]


def beat_worker(config: dict[str, Any], tmp_path: Path, name: str) -> Worker:
    """A worker with Celery beat sending the audit every second."""
    return Worker(
        dict(config, CELERY_BEAT_SCHEDULE=BEAT, RECORDS_FILES_FIXITY_TASKS=1),
        str(tmp_path),
        name,
        beat=True,
    )


def test_beat_audit_finds_bytes_changed_on_disk(
    app: Flask,
    record: BucketRecord,
    redis_url: str,
    database_uri: str,
    tmp_path: Path,
    cli: Callable[..., Result],
) -> None:
    files = add_files(record, 3, b"kept on disk\n" * 2000)
    corrupt_local(files["f001.bin"].uri, offset=100)
    backdate_files(40 * DAY)
    since = fixity.utcnow() - timedelta(seconds=1)
    purge(app, redis_url)
    worker = beat_worker(worker_config(database_uri, redis_url), tmp_path, "beat")
    try:
        found = wait_until(all_checked(since), workers=[worker])
        assert found is not None  # wait_until returns a true value
        assert found[files["f000.bin"].id][0] is True
        assert found[files["f001.bin"].id][0] is False
        assert found[files["f002.bin"].id][0] is True
        # Logged by the worker.
        wait_until(lambda: "Fixity check failed (mismatch)" in worker.log())
        assert str(files["f001.bin"].id) in worker.log()
        # Later beats find nothing due: each file was read once.
        runs = audits_run(worker)
        wait_until(lambda: audits_run(worker) >= runs + 3, workers=[worker])
        assert checks() == found
    finally:
        worker.stop()
    report = cli("fixity", "report")
    assert report.exit_code == 1
    assert "record {0}".format(record.id) in report.output
    assert "\tmismatch\tf001.bin\t" in report.output
    assert "default\t3\t1\t0" in report.output.splitlines()


@pytest.mark.s3
def test_beat_audit_finds_objects_changed_on_the_s3_server(
    s3_app: Flask,
    s3_location: Location,
    s3: Any,
    s3_server: MotoServer,
    redis_url: str,
    database_uri: str,
    tmp_path: Path,
) -> None:
    record = Record.create({"title": "s3"})
    db.session.commit()
    files = add_files(record, 3, b"kept in S3\n" * 200000)
    corrupt_s3(s3, files["f002.bin"].uri, offset=1500000)
    removed = files["f000.bin"].uri[len("s3://") :].partition("/")
    s3.delete_object(Bucket=removed[0], Key=removed[2])
    backdate_files(40 * DAY)
    since = fixity.utcnow() - timedelta(seconds=1)
    config = worker_config(database_uri, redis_url, **s3_server.app_config())
    purge(s3_app, redis_url)
    worker = beat_worker(config, tmp_path, "beat-s3")
    try:
        found = wait_until(all_checked(since), workers=[worker])
        assert found is not None  # wait_until returns a true value
    finally:
        worker.stop()
    assert found[files["f000.bin"].id][0] is None  # unreadable: gone
    assert found[files["f001.bin"].id][0] is True
    assert found[files["f002.bin"].id][0] is False  # mismatch
    log = worker.log()
    assert "Fixity check failed (unreadable)" in log
    assert "Fixity check failed (mismatch)" in log


def test_two_workers_share_the_audit_without_checking_a_file_twice(
    app: Flask,
    record: BucketRecord,
    redis_url: str,
    database_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = add_files(record, 200, b"shared\n" * 2000)
    backdate_files(40 * DAY)
    config = worker_config(database_uri, redis_url, RECORDS_FILES_FIXITY_BATCH=4)
    purge(app, redis_url)
    workers = [Worker(config, str(tmp_path), name) for name in ("one", "two")]

    def checked(worker: Worker) -> int:
        return sum(summary["checked"] for summary in summaries(worker))

    try:
        for worker in workers:
            worker.wait_ready()
        with broker_for(app, redis_url):
            audit_fixity.apply_async(kwargs=dict(tasks=2))
        wait_until(lambda: sum(map(checked, workers)) >= len(files), workers=workers)
    finally:
        for worker in workers:
            worker.stop()
    done = [summary for worker in workers for summary in summaries(worker)]
    # Every file once: the counts add up, and no result was dropped.
    assert sum(map(checked, workers)) == len(files), done
    assert sum(summary["lost"] for summary in done) == 0, done
    # Both took part (each task runs until nothing is due).
    assert all(checked(worker) > 0 for worker in workers), done
    assert db.session.execute(
        select(func.count()).where(FileInstance.last_check.is_(True))
    ).scalar_one() == len(files)
    assert fixity.count_due() == 0
