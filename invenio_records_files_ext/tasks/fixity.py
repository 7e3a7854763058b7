"""Celery tasks of the fixity audit (:mod:`invenio_records_files_ext.maintenance.fixity`).

Schedule ``audit_fixity`` with Celery beat, for instance every hour::

    from datetime import timedelta

    CELERY_BEAT_SCHEDULE = {
        "records-files-fixity": {
            "task": "invenio_records_files_ext.tasks.fixity.audit_fixity",
            "schedule": timedelta(hours=1),
        },
    }

Each run sends ``RECORDS_FILES_FIXITY_TASKS`` ``check_fixity`` tasks;
the workers that take them claim batches of due files in turn, without
ever checking a file twice, until nothing is due or each has checked
``RECORDS_FILES_FIXITY_TASK_BATCHES`` batches.
"""

from __future__ import annotations

from typing import Optional

from celery import shared_task

from ..maintenance.fixity import run_audit
from ..settings.current import current


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]  # Celery is untyped
def audit_fixity(tasks: Optional[int] = None) -> int:
    """Send ``tasks`` (default ``RECORDS_FILES_FIXITY_TASKS``) batch-checking tasks.

    :returns: how many were sent.
    """
    count = current().fixity.tasks if tasks is None else int(tasks)
    for _ in range(count):
        check_fixity.apply_async()
    return count


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]  # Celery is untyped
def check_fixity(max_batches: Optional[int] = None) -> dict[str, int]:
    """Check due files, batch after batch, up to ``max_batches``.

    The default is ``RECORDS_FILES_FIXITY_TASK_BATCHES``.

    :returns: the counts of :class:`~invenio_records_files_ext.maintenance.fixity.AuditSummary`.
    """
    if max_batches is None:
        max_batches = current().fixity.task_batches
    summary = run_audit(max_batches=max_batches)
    return dict(vars(summary))


__all__ = ("audit_fixity", "check_fixity")
