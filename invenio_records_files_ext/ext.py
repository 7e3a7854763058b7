"""The Flask extension: configuration, session hooks, indexer hook, access."""

from __future__ import annotations

from typing import Optional

from flask import Flask

from . import config, transfers
from .access import decisions as access
from .access import visibility
from .db import continuum
from .errors import ConfigurationError
from .files.hooks import enable_session_hooks, register_session_hooks
from .processors import runner as processors_runner
from .records.dumpers import add_files_to_index
from .rest import files_rest
from .storage import writes as storage
from .tasks.transfers import launch


class InvenioRecordsFiles:
    """Invenio-Records-Files extension.

    ``init_app`` sets the ``RECORDS_FILES_*`` defaults, enables the
    session hooks for the application (the transaction ledger that cleans
    up bytes of failed uploads, and the watcher that keeps file rows in
    step with changes made by other code; they follow every session, see
    :mod:`~invenio_records_files_ext.files.hooks`), makes
    SQLAlchemy-Continuum's version session join the transaction instead of
    opening savepoints it never releases
    (:mod:`~invenio_records_files_ext.db.continuum`), when Invenio-Indexer is installed puts the files into
    search documents, runs the metadata processors on completed files
    (:mod:`~invenio_records_files_ext.processors`), and lets records decide for their buckets on
    Invenio-Files-REST's routes too, and writes local files durably
    (:func:`finalize_app`).
    """

    def __init__(self, app: Optional[Flask] = None) -> None:
        """Initialise the extension, now if ``app`` is given."""
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Set configuration defaults and wire the hooks."""
        self.init_config(app)
        enable_session_hooks(app)
        _join_version_sessions(app)
        transfers.set_launcher(launch)
        _connect_indexer()
        processors_runner.connect()
        visibility.install(access.may_read_files)
        app.extensions["invenio-records-files"] = self
        finalize_app(app)
        finalized: list[bool] = []

        @app.before_request
        def _finalize_once() -> None:
            # Applications built by hand register Invenio-Files-REST's
            # blueprint after the extensions and call no finalize hook: by
            # the first request everything is registered.
            if not finalized:
                finalize_app(app)
                finalized.append(True)

    @staticmethod
    def init_config(app: Flask) -> None:
        """Set every ``RECORDS_FILES_*`` default that the app did not set.

        :raises ~invenio_records_files_ext.errors.ConfigurationError: (a ValueError) if ``RECORDS_FILES_VERSIONS_PERMISSION`` is
            neither ``"read"`` nor ``"update"``.
        """
        for name in dir(config):
            if name.startswith("RECORDS_FILES_"):
                app.config.setdefault(name, getattr(config, name))
        versions = app.config["RECORDS_FILES_VERSIONS_PERMISSION"]
        if versions not in ("read", "update"):
            raise ConfigurationError(
                "RECORDS_FILES_VERSIONS_PERMISSION must be 'read' or 'update', "
                "not {0!r}.".format(versions)
            )


def finalize_app(app: Flask) -> None:
    """Let records decide for their buckets on Invenio-Files-REST's routes.

    Wraps Invenio-Files-REST's permission factory
    (:func:`invenio_records_files_ext.access.decisions.install`) and its bucket and
    object views (:func:`invenio_records_files_ext.rest.files_rest.install`),
    and puts this package's durable local storage in place of
    Invenio-Files-REST's own (:func:`invenio_records_files_ext.storage.writes.install`).
    Invenio-Base calls it once the application is built (the
    ``invenio_base.finalize_app`` and ``invenio_base.api_finalize_app``
    entry points); the extension also calls it from ``init_app`` and before
    the first request, so that applications built by hand need nothing
    more. Calling it again changes nothing.
    """
    access.install(app)
    files_rest.install(app)
    storage.install(app)


def _join_version_sessions(app: Flask) -> None:
    # SQLAlchemy-Continuum's version session must not open savepoints of
    # its own (see invenio_records_files_ext.db.continuum): Continuum's default
    # manager and the one Invenio-DB was given, if another.
    continuum.install()
    manager = getattr(app.extensions.get("invenio-db"), "versioning_manager", None)
    if manager is not None:
        continuum.install(manager)


def _connect_indexer() -> None:
    try:
        from invenio_indexer.signals import before_record_index
    except ImportError:  # pragma: no cover - Invenio-Indexer is optional
        return
    before_record_index.connect(add_files_to_index, weak=False)


__all__ = ("InvenioRecordsFiles", "finalize_app", "register_session_hooks")
