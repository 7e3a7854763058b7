"""What readers who may not read a record's restricted files see of them.

A record whose files are restricted (or embargoed,
:func:`~invenio_records_files_ext.access.restrictions.files_restricted`) may be
readable by people who may not read its files. In the record's JSON they
see, of each file's entry, only the fields named by
``RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS`` (the key alone by default:
not its size, checksum, mimetype, ids, metadata or ``_extracted``).

:func:`visible_entries` is the one filter: ``_files`` and ``_media_files``
(as the record shows them, so in every serializer and dump) and the search
documents (:func:`~invenio_records_files_ext.records.dumpers.add_files_to_index`)
go through it. Who may read the files is decided by
:func:`invenio_records_files_ext.access.decisions.may_read_files`, which the
extension installs here (:func:`install`: this module sits below the
access decision, which needs the records' API).

Search documents hold the restricted view of restricted records whoever
indexes them: a search hit is shown to every reader. Outside a request
(Python code, the CLI, Celery tasks) the record shows its entries whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, Optional

from flask import has_request_context

from .. import config as defaults
from ..settings.current import current
from .restrictions import files_restricted

DEFAULT_VISIBLE_FIELDS: tuple[str, ...] = tuple(
    defaults.RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS
)
"""The default of ``RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS``."""

Decider = Callable[[Any], bool]
"""``decider(record)``: whether the current user may read the record's files."""

_deciders: list[Decider] = []


def install(decider: Decider) -> None:
    """Have :func:`hides_entries` ask ``decider`` (the extension installs one)."""
    _deciders[:] = [decider]


def visible_fields() -> tuple[str, ...]:
    """Return ``RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS``."""
    return current().access.restricted_visible_fields


def hides_entries(record: Any) -> bool:
    """Whether the current reader gets the restricted view of the record's entries.

    True in a request whose user may not read the record's restricted
    files (or when no decider is installed: the safe side); false for
    public files and outside requests.
    """
    if not has_request_context() or not files_restricted(record):
        return False
    return not (_deciders and _deciders[0](record))


def visible_entry(entry: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Return the fields of ``entry`` named in ``fields`` (in the entry's order)."""
    return {name: value for name, value in entry.items() if name in fields}


def visible_entries(
    record: Any, entries: Iterable[Mapping[str, Any]], hide: Optional[bool] = None
) -> list[Any]:
    """Return the entries of ``record`` as the current reader may see them.

    :param hide: whether to show the restricted view (default:
        :func:`hides_entries`); entries are returned as they are when not.
    """
    if hide is None:
        hide = hides_entries(record)
    if not hide:
        return list(entries)
    fields = visible_fields()
    return [visible_entry(entry, fields) for entry in entries]


def visible_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Return a ``_files_summary`` less what the visible fields do not show."""
    fields = visible_fields()
    shown = dict(summary)
    if "size" not in fields:
        shown.pop("total_bytes", None)
    if "mimetype" not in fields:
        shown.pop("mimetypes", None)
    return shown


__all__ = (
    "DEFAULT_VISIBLE_FIELDS",
    "Decider",
    "hides_entries",
    "install",
    "visible_entries",
    "visible_entry",
    "visible_fields",
    "visible_summary",
)
