"""Wiring the files' session hooks: the ledger and the sync watcher.

:func:`register_session_hooks` is what the Flask extension calls from
``init_app``; applications that do not initialise the extension may call
it themselves. :func:`ensure_session_hooks` is the safety net the files API
uses on first access, so that bytes of a failed upload are never left
behind because an application forgot the extension.
"""

from __future__ import annotations

from typing import Any

from .. import ledger
from . import sync

_registered = False


def register_session_hooks(target: Any = None) -> None:
    """Attach the ledger and the sync watcher to a session (idempotent).

    :param target: a session or scoped session (default: Invenio-DB's).
    """
    global _registered
    ledger.register(target)
    sync.watch(target)
    ledger.on_before_commit(sync.reconcile)
    if target is None:
        _registered = True


def ensure_session_hooks() -> None:
    """Register the hooks on Invenio-DB's session unless already done."""
    if not _registered:
        register_session_hooks()
