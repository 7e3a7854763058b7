"""The Celery task that lifts embargoes whose day has come.

Schedule it with Celery beat, for instance every hour::

    from datetime import timedelta

    CELERY_BEAT_SCHEDULE = {
        "records-files-lift-embargoes": {
            "task": "invenio_records_files_ext.tasks.embargo.lift_embargoes",
            "schedule": timedelta(hours=1),
        },
    }
"""

from __future__ import annotations

from typing import Optional

from celery import shared_task

from ..access.restrictions import parse_date
from ..maintenance.embargoes import lift_due_embargoes


@shared_task(ignore_result=True)  # type: ignore[untyped-decorator]  # Celery is untyped
def lift_embargoes(today: Optional[str] = None) -> dict[str, list[str]]:
    """Lift every embargo due on ``today`` (``YYYY-MM-DD``, default: today, UTC).

    :returns: the ids of the records lifted and of those that failed.
    """
    report = lift_due_embargoes(parse_date(today) if today else None)
    return {
        "lifted": [str(record_id) for record_id in report.lifted],
        "failed": [str(failure.record_id) for failure in report.failed],
    }


__all__ = ("lift_embargoes",)
