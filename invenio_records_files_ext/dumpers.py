"""The files summary added to record dumps (search documents, REST output).

Search pages and UIs want to know how many files a record has, how big
they are and of which types, without asking the database. The summary is
computed from the record's ``_files`` alone and added to
``record.dumps()`` under ``_files_summary`` (removed again when a dump is
loaded). Turn it off with ``RECORDS_FILES_DUMP_SUMMARY = False``.
"""

from flask import current_app, has_app_context
from invenio_records.extensions import RecordExtension

from .entries import DEFAULT_PREVIEW_KEY, FILES_KEY, FileEntries

SUMMARY_KEY = "_files_summary"


def files_summary(data):
    """Return the files summary of a record's JSON (no database access)."""
    return FileEntries(
        list(data.get(FILES_KEY) or []), data.get(DEFAULT_PREVIEW_KEY)
    ).summary()


class FilesSummaryExtension(RecordExtension):
    """Record extension adding :func:`files_summary` to dumps."""

    def post_dump(self, record, data, dumper=None):
        """Add the summary to the dump."""
        enabled = (
            current_app.config.get("RECORDS_FILES_DUMP_SUMMARY", True)
            if has_app_context()
            else True
        )
        if enabled and isinstance(data, dict):
            data[SUMMARY_KEY] = files_summary(record)

    def pre_load(self, data, loader=None):
        """Drop the summary: it is derived, not stored."""
        data.pop(SUMMARY_KEY, None)
