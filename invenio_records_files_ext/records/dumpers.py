"""The record's files in its dumps: REST output and search documents.

``record.dumps()`` is what Invenio-Records-REST serializes and what
Invenio-Indexer sends to the search engine. For records of up to
``RECORDS_FILES_INLINE_MAX_ENTRIES`` files, dumps carry ``_files`` (and
``_default_preview``) as the record always showed them; every dump carries
``_files_summary`` (count, bytes, MIME types, default preview, and
``inline``, false when ``_files`` was left out because the record holds
more files). Turn the summary off with ``RECORDS_FILES_DUMP_SUMMARY =
False``.

Invenio-Indexer may dump records its own way (``INDEXER_REPLACE_REFS``);
:func:`add_files_to_index` fills the same keys in there.

Readers who may not read the restricted files of a record see less of
them (:mod:`invenio_records_files_ext.access.visibility`): in dumps, as the
record shows them; in search documents, always for restricted records.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from invenio_records.dumpers import Dumper
from invenio_records.extensions import RecordExtension

from ..access import visibility
from ..access.restrictions import files_restricted
from ..files import inline
from ..files.entries import DEFAULT_PREVIEW_KEY, FILES_KEY, MEDIA_FILES_KEY, SUMMARY_KEY


def _shows_files(record: Any) -> bool:
    return hasattr(record, "files") and hasattr(record, "bucket")


class FilesDumpExtension(RecordExtension):  # type: ignore[misc]  # Invenio-Records is untyped
    """Record extension putting the files into dumps."""

    def pre_dump(self, record: Any, data: Any, dumper: Any = None) -> None:
        """Load ``_files`` so that the dump copies it.

        With Invenio-Records' plain :class:`~invenio_records.dumpers.Dumper`
        the inline keys are set aside while it deep-copies the record, and
        :meth:`post_dump` copies them into the dump: entries are JSON, a
        copy made for JSON costs a fraction of ``deepcopy`` (most of a
        record read with 1,000 files, before).
        """
        if _shows_files(record):
            inline.load(record)
            if type(dumper or getattr(record, "dumper", None)) is Dumper:
                inline.set_aside(record)

    def post_dump(self, record: Any, data: Any, dumper: Any = None) -> None:
        """Add the files summary to the dump."""
        if _shows_files(record):
            for key, value in inline.take_back(record).items():
                if isinstance(data, dict):
                    data[key] = copy_json(value)
        if isinstance(data, dict) and _shows_files(record) and inline.dump_enabled():
            data[SUMMARY_KEY] = _summary(record, visibility.hides_entries(record))

    def pre_load(self, data: Any, loader: Any = None) -> None:
        """Drop the summary: it is derived, not stored."""
        data.pop(SUMMARY_KEY, None)


_ATOMS = (str, int, float, bool, type(None))


def copy_json(value: Any) -> Any:
    """Return a copy of a JSON value (dicts and lists copied, atoms shared)."""
    if isinstance(value, dict):
        return {
            name: item if item.__class__ in _ATOMS else copy_json(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [item if item.__class__ in _ATOMS else copy_json(item) for item in value]
    if isinstance(value, tuple):
        return tuple(copy_json(item) for item in value)
    return deepcopy(value) if value.__class__ not in _ATOMS else value


def add_files_to_index(
    sender: Any, json: Any = None, record: Any = None, **kwargs: Any
) -> None:
    """``before_record_index`` receiver: the files keys in search documents."""
    if json is None or record is None or not _shows_files(record):
        return
    inline.load(record)
    for key in (FILES_KEY, DEFAULT_PREVIEW_KEY):
        if key not in json and dict.__contains__(record, key):
            json[key] = dict.__getitem__(record, key)
    # Every reader sees a search hit: restricted files' entries go in as
    # readers without access see them, whoever indexes the record.
    hide = files_restricted(record)
    for key in (FILES_KEY, MEDIA_FILES_KEY):
        if hide and isinstance(json.get(key), list):
            json[key] = visibility.visible_entries(record, json[key], hide=True)
    if inline.dump_enabled() and (SUMMARY_KEY not in json or hide):
        json[SUMMARY_KEY] = _summary(record, hide)


def _summary(record: Any, hide: bool) -> Any:
    summary = inline.summary(record)
    return visibility.visible_summary(summary) if hide else summary


#: Kept for applications that listed the previous extension by name.
FilesSummaryExtension = FilesDumpExtension

__all__ = ("FilesDumpExtension", "FilesSummaryExtension", "add_files_to_index")
