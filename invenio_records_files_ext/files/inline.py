"""``record["_files"]``: the record's files shown inside the record.

The files live in their own rows; the record's JSON does not store them.
For compatibility the record still *shows* them as ``_files`` (and
``_default_preview``): the keys are filled in from the rows the first time
they are read, in one query, and only for records holding at most
``RECORDS_FILES_INLINE_MAX_ENTRIES`` files. Larger records show no
``_files``; their dumps carry ``_files_summary`` (with ``inline: false``)
and readers page through ``record.files`` or the REST listing.

Reading a record costs nothing more until ``_files`` is read: a record with
100,000 files loads as fast as one with none.

Readers who may not read a record's restricted files see only some fields
of each entry (:func:`invenio_records_files_ext.access.visibility.visible_entries`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..access import visibility
from ..settings.current import current_or_defaults
from . import queries
from .entries import (
    DEFAULT_PREVIEW_KEY,
    FILES_KEY,
    MEDIA_FILES_KEY,
    SUMMARY_KEY,
    FilesSummary,
    summarize,
)

INLINE_KEYS = (FILES_KEY, DEFAULT_PREVIEW_KEY, MEDIA_FILES_KEY)
"""Record keys computed from the rows."""

DERIVED_KEYS = (FILES_KEY, DEFAULT_PREVIEW_KEY, SUMMARY_KEY, MEDIA_FILES_KEY)
"""Record keys never stored in the record's JSON."""

DEFAULT_INLINE_MAX_ENTRIES = 1000

STATE = "_rfx_inline"
NOT_LOADED = None
LOADING = "loading"
LOADED = "loaded"
OVERFLOW = "overflow"
NONE = "none"
SUSPENDED = "suspended"


def max_entries() -> int:
    """Return ``RECORDS_FILES_INLINE_MAX_ENTRIES`` (1000 by default)."""
    return current_or_defaults().dumps.inline_max_entries


def state(record: Any) -> Any:
    """Return the loading state of a record's inline keys."""
    return record.__dict__.get(STATE, NOT_LOADED)


def _bucket_id(record: Any) -> Any:
    model = getattr(record, "model", None)
    if model is None or model.json is None or getattr(record, "id", None) is None:
        return None
    bucket = record.bucket
    return bucket.id if bucket is not None else None


def load(record: Any) -> None:
    """Fill ``_files``, ``_default_preview`` and ``_media_files`` in from the rows, once."""
    if state(record) is not NOT_LOADED:
        return
    record.__dict__[STATE] = LOADING
    result = NONE
    try:
        bucket_id = _bucket_id(record)
        if bucket_id is not None:
            found = queries.inline_entries(bucket_id, max_entries())
            if not found.complete:
                result = OVERFLOW
            else:
                result = LOADED
                if found.entries:
                    shown = visibility.visible_entries(record, found.entries)
                    dict.__setitem__(record, FILES_KEY, shown)
                if found.default_preview is not None:
                    dict.__setitem__(record, DEFAULT_PREVIEW_KEY, found.default_preview)
            _load_media(record)
    finally:
        record.__dict__[STATE] = result


def _load_media(record: Any) -> None:
    media = getattr(record, "media_bucket", None)
    if media is None:
        return
    found = queries.inline_entries(media.id, max_entries())
    # Like ``_files``: shown when all of them fit, as a list of entries.
    if found.complete and found.entries:
        shown = visibility.visible_entries(record, found.entries)
        dict.__setitem__(record, MEDIA_FILES_KEY, shown)


def forget(record: Any) -> None:
    """Drop the inline keys: they are read from the rows again when needed."""
    if record is None or not hasattr(record, "__dict__"):
        return
    if state(record) == SUSPENDED:
        return
    for key in INLINE_KEYS:
        dict.pop(record, key, None)
    record.__dict__[STATE] = NOT_LOADED


def reset(record: Any, loaded: bool = False) -> None:
    """Mark the inline keys as not loaded (or as loaded: nothing to show)."""
    record.__dict__[STATE] = NONE if loaded else NOT_LOADED


@contextmanager
def suspended(record: Any) -> Iterator[None]:
    """Hide the derived keys while the record is stored, then bring them back."""
    previous = state(record)
    saved = {
        key: dict.pop(record, key)
        for key in DERIVED_KEYS
        if dict.__contains__(record, key)
    }
    record.__dict__[STATE] = SUSPENDED
    try:
        yield
    finally:
        for key, value in saved.items():
            dict.__setitem__(record, key, value)
        record.__dict__[STATE] = previous


ASIDE = "_rfx_inline_aside"


def set_aside(record: Any) -> None:
    """Take the inline keys out of the record's dict for a moment (a dump's copy).

    :func:`take_back` puts them back. Meanwhile the record shows none
    (its state is "suspended", as while it is stored).
    """
    aside = {
        key: dict.pop(record, key)
        for key in INLINE_KEYS
        if dict.__contains__(record, key)
    }
    record.__dict__[ASIDE] = (aside, state(record))
    record.__dict__[STATE] = SUSPENDED


def take_back(record: Any) -> dict[str, Any]:
    """Put back what :func:`set_aside` took out; return it (empty if nothing)."""
    found = record.__dict__.pop(ASIDE, None)
    if found is None:
        return {}
    aside, previous = found
    if state(record) == SUSPENDED:
        for key, value in aside.items():
            dict.__setitem__(record, key, value)
        record.__dict__[STATE] = previous
    return dict(aside)


def summary(record: Any) -> FilesSummary:
    """Return what ``_files_summary`` says of a record (no query once loaded)."""
    load(record)
    if state(record) == OVERFLOW:
        return queries.summary(_bucket_id(record))
    return summarize(
        list(dict.get(record, FILES_KEY) or []),
        dict.get(record, DEFAULT_PREVIEW_KEY),
    )


def dump_enabled() -> bool:
    """Whether dumps carry ``_files_summary`` (``RECORDS_FILES_DUMP_SUMMARY``)."""
    return current_or_defaults().dumps.summary
