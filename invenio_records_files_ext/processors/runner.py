"""Running the metadata processors on a completed file, storing what they find.

:func:`process_file` is connected to
:data:`~invenio_records_files_ext.signals.file_added` and
:data:`~invenio_records_files_ext.signals.file_replaced`
(:func:`connect`): it runs inside the step that completes the file, so the
results are committed with the file. It never raises: a processor that
fails, runs out of time or reads too much leaves ``{"error": ...}`` under
its name, and the upload goes on.

Each processor runs in a thread of its own, given the file through a
:class:`~invenio_records_files_ext.processors.base.BoundedFile`; the
caller waits at most ``RECORDS_FILES_PROCESSORS_TIMEOUT`` seconds, and the
file refuses reads past the deadline, so a processor stuck on a hostile
file stops at its next read.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from flask import Flask
from invenio_db import db
from invenio_records_rest.utils import obj_or_import_string

from .. import signals
from ..db.steps import app_object, send_signal
from ..errors import describe
from ..files.entries import EXTRACTED_KEY, check_metadata
from ..files.writer import FilesWriter
from ..settings.current import current, settings_for
from ..storage.reads import RandomAccess
from .base import BoundedFile, Processor, out_of_time

logger = logging.getLogger(__name__)


def configured() -> list[Processor]:
    """Return instances of the processors of ``RECORDS_FILES_PROCESSORS``."""
    found = []
    for name in current().processors.processors:
        value = obj_or_import_string(name)
        found.append(value() if isinstance(value, type) else value)
    return found


def _run_bounded(
    app: Flask, processor: Processor, source: RandomAccess, timeout: float
) -> dict[str, Any]:
    max_read = settings_for(app).processors.max_read
    outcome: dict[str, Any] = {}

    def work() -> None:
        with app.app_context():
            try:
                outcome["result"] = processor.process(
                    BoundedFile(source, max_read, timeout)
                )
            except Exception as error:
                outcome["error"] = describe(error)

    thread = threading.Thread(
        target=work, name="records-files-processor-" + processor.name, daemon=True
    )
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        # The same message as the file's own refusal, whichever comes first.
        return {"error": out_of_time(timeout)}
    if "error" in outcome:
        return {"error": outcome["error"]}
    result = outcome.get("result") or {}
    try:
        check_metadata(processor.name, result)
    except ValueError as error:
        return {"error": describe(error)}
    return dict(result)


def extract(obj: Any, key: str, mimetype: Optional[str]) -> dict[str, Any]:
    """Run the processors that accept a file; return their results by name.

    :param obj: the file's object version (its bytes are read through its
        storage).
    """
    processors = [p for p in configured() if p.accepts(key, mimetype)]
    if not processors:
        return {}
    app = app_object()
    timeout = settings_for(app).processors.timeout
    file = obj.file
    results: dict[str, Any] = {}
    try:
        source = RandomAccess(file.storage(), int(file.size or 0))
    except Exception as error:
        return {p.name: {"error": describe(error)} for p in processors}
    try:
        for processor in processors:
            results[processor.name] = _run_bounded(app, processor, source, timeout)
    finally:
        source.close()
    return results


def process_file(
    sender: Any, record: Any = None, file: Any = None, **kwargs: Any
) -> None:
    """Extract a completed file's metadata into its entry (a signal receiver).

    Never raises: whatever goes wrong is logged, and recorded on the file
    when it can be.
    """
    if file is None or not current().processors.processors:
        return
    try:
        results = extract(file.obj, file.obj.key, file.data.get("mimetype"))
        if not results:
            return
        files = getattr(file, "_files", None)
        bucket = getattr(files, "bucket", None)
        if bucket is None:
            return
        # A savepoint of its own: a failure here leaves the file's step
        # as it was.
        with db.session.begin_nested():
            stored = FilesWriter(bucket).set_metadata(
                file.obj.key, EXTRACTED_KEY, results
            )
        file.data = dict(file.data)
        file.data[EXTRACTED_KEY] = stored[EXTRACTED_KEY]
        send_signal(signals.file_processed, record=record, file=file, extracted=results)
    except Exception:
        logger.exception(
            "Metadata extraction failed for %r", getattr(file, "key", None)
        )


_connected: list[bool] = []


def connect() -> None:
    """Run :func:`process_file` for every completed file (idempotent)."""
    if _connected:
        return
    signals.file_added.connect(process_file, weak=False)
    signals.file_replaced.connect(process_file, weak=False)
    _connected.append(True)


__all__ = ("configured", "connect", "extract", "process_file")
