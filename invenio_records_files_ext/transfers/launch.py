"""Starting background work once the transaction that asked for it commits.

The files API does not know Celery: it asks :func:`launch_after_commit`,
and the launcher the extension set (:func:`set_launcher`, the Celery one
of :mod:`invenio_records_files_ext.tasks.transfers`) starts the work.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..db import ledger

Launcher = Callable[[str, Any, str], None]
"""``launcher(job, bucket_id, key)``: start ``job`` for a pending file."""

_launcher: Optional[Launcher] = None


def set_launcher(launcher: Optional[Launcher]) -> None:
    """Set what starts background work (the extension sets the Celery one)."""
    global _launcher
    _launcher = launcher


def launch_after_commit(job: str, bucket_id: Any, key: str) -> None:
    """Start ``job`` for ``key`` once the transaction has committed.

    Without a launcher (the extension not initialised) the work is not
    started: the file stays pending and is cleaned by ``gc`` in the end.
    """
    launcher = _launcher
    if launcher is None:
        return

    def start() -> None:
        launcher(job, bucket_id, key)

    ledger.call_after_commit(start)


__all__ = ("Launcher", "launch_after_commit", "set_launcher")
