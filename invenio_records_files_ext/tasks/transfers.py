"""Celery tasks of transfers: fetching files, verifying direct uploads.

The work is :func:`invenio_records_files_ext.jobs.run`'s; :func:`launch`
is the launcher the extension registers
(:func:`invenio_records_files_ext.transfers.set_launcher`), called once the
transaction that asked for the work has committed.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from flask import current_app

from .. import jobs


@shared_task(ignore_result=True)
def run_transfer_job(job: str, bucket_id: str, key: str) -> None:
    """Fetch or verify the pending file ``key`` of bucket ``bucket_id``."""
    jobs.run(job, bucket_id, key)


def launch(job: str, bucket_id: Any, key: str) -> None:
    """Send the task (from the after-commit hook).

    A fresh application context gives the task, when Celery runs it at once
    (``CELERY_TASK_ALWAYS_EAGER``), a database session of its own: the
    committing session can run no SQL at this point.
    """
    with current_app.app_context():
        run_transfer_job.apply_async(args=(job, str(bucket_id), key))


__all__ = ("launch", "run_transfer_job")
