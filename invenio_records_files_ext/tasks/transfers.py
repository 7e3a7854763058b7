"""Celery tasks of transfers: fetching files, verifying direct uploads.

The work is :func:`invenio_records_files_ext.transfers.jobs.run`'s; :func:`launch`
is the launcher the extension registers
(:func:`invenio_records_files_ext.transfers.set_launcher`), called once the
transaction that asked for the work has committed.

A fetch that fails in a way that may pass (connection reset or refused,
the source answering 5xx, a read timing out:
:class:`~invenio_records_files_ext.errors.TransientTransferError`) is
retried by Celery itself (``autoretry_for``), after 10, 20, 40... seconds
(``retry_backoff``, with jitter, at most 10 minutes apart), at most
:data:`FETCH_MAX_RETRIES` times; the last failure fails the file. The
message is acknowledged once the job is done (``acks_late``) and given
back to the broker if the worker process dies (``reject_on_worker_lost``).
A worker killed outright leaves its fetch ``fetching`` with a lease nobody
renews: ``sweep_transfers``, run every minute by Celery beat, queues
it again (see :func:`invenio_records_files_ext.transfers.jobs.sweep`).
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from flask import current_app, has_app_context

from ..errors import TransientTransferError
from ..transfers import jobs

FETCH_MAX_RETRIES = 5
"""Times a transient fetch failure is tried again."""

FETCH_RETRY_BACKOFF = 10
"""Seconds before the first retry (doubled at each one)."""

FETCH_RETRY_BACKOFF_MAX = 600
"""Most seconds between two retries."""


class _RetryingTask(Task):  # type: ignore[misc]  # Celery is untyped
    """A task run in the Flask application's context, keeping Celery's request.

    Flask-CeleryExt's task class calls ``Task.__call__``, which pushes a
    bare request: ``self.request.retries`` would stay 0 and ``retry()``
    would take the task for one called directly, so ``autoretry_for``
    would never retry. This class calls ``run`` under the worker's own
    request instead.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task in an application context."""
        flask_app = getattr(self.app, "flask_app", None)
        if has_app_context() or flask_app is None:
            return self.run(*args, **kwargs)
        with flask_app.app_context():
            return self.run(*args, **kwargs)


@shared_task(  # type: ignore[untyped-decorator]  # Celery is untyped
    base=_RetryingTask,
    bind=True,
    ignore_result=True,
    autoretry_for=(TransientTransferError,),
    retry_backoff=FETCH_RETRY_BACKOFF,
    retry_backoff_max=FETCH_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=FETCH_MAX_RETRIES,
    acks_late=True,
    reject_on_worker_lost=True,
)
def run_transfer_job(self: Any, job: str, bucket_id: str, key: str) -> None:
    """Fetch or verify the pending file ``key`` of bucket ``bucket_id``."""
    last = self.max_retries is not None and self.request.retries >= self.max_retries
    jobs.run(job, bucket_id, key, last_attempt=last)


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]  # Celery is untyped
def sweep_transfers() -> None:
    """Queue again (or fail) the fetches whose worker stopped (:func:`jobs.sweep`).

    Schedule it with Celery beat, every minute::

        CELERY_BEAT_SCHEDULE = {
            "records-files-sweep-transfers": {
                "task": "invenio_records_files_ext.tasks.transfers.sweep_transfers",
                "schedule": 60,
            },
        }
    """
    jobs.sweep()


def launch(job: str, bucket_id: Any, key: str) -> None:
    """Send the task (from the after-commit hook).

    A fresh application context gives the task, when Celery runs it at once
    (``CELERY_TASK_ALWAYS_EAGER``), a database session of its own: the
    committing session can run no SQL at this point.
    """
    with current_app.app_context():
        run_transfer_job.apply_async(args=(job, str(bucket_id), key))


__all__ = (
    "FETCH_MAX_RETRIES",
    "FETCH_RETRY_BACKOFF",
    "FETCH_RETRY_BACKOFF_MAX",
    "launch",
    "run_transfer_job",
    "sweep_transfers",
)
