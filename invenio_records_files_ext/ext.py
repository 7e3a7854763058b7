"""The Flask extension: configuration, session hooks, indexer hook."""

from __future__ import annotations

from typing import Optional

from flask import Flask

from . import config
from .files.hooks import register_session_hooks


class InvenioRecordsFiles:
    """Invenio-Records-Files extension.

    ``init_app`` sets the ``RECORDS_FILES_*`` defaults, attaches the
    session hooks (the transaction ledger that cleans up bytes of failed
    uploads, and the watcher that keeps file rows in step with changes made
    by other code) and, when Invenio-Indexer is installed, puts the files
    into search documents.
    """

    def __init__(self, app: Optional[Flask] = None) -> None:
        """Initialise the extension, now if ``app`` is given."""
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Set configuration defaults and wire the hooks."""
        self.init_config(app)
        register_session_hooks()
        _connect_indexer()
        app.extensions["invenio-records-files"] = self

    @staticmethod
    def init_config(app: Flask) -> None:
        """Set every ``RECORDS_FILES_*`` default that the app did not set."""
        for name in dir(config):
            if name.startswith("RECORDS_FILES_"):
                app.config.setdefault(name, getattr(config, name))


def _connect_indexer() -> None:
    try:
        from invenio_indexer.signals import before_record_index
    except ImportError:  # pragma: no cover - Invenio-Indexer is optional
        return
    from .dumpers import add_files_to_index

    before_record_index.connect(add_files_to_index, weak=False)


__all__ = ("InvenioRecordsFiles", "register_session_hooks")
