"""``files.enabled``: whether a record has files, in InvenioRDM's shape.

A record can be metadata-only. Its JSON says so as InvenioRDM's records do,
``{"files": {"enabled": false}}``; such a record has no bucket and refuses
uploads (:class:`~invenio_records_files_ext.errors.FilesNotEnabledError`).
Enabling files creates the bucket; files can be disabled again only while
the record has none (completed or pending). A record whose JSON does not
say (records stored before this library knew the flag) counts as enabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

FILES_OPTIONS_KEY = "files"
"""Record key holding the files options (``{"enabled": bool}``)."""


def stored_flag(data: Any) -> Optional[bool]:
    """Return what ``data["files"]["enabled"]`` says, or ``None`` if nothing."""
    if not isinstance(data, Mapping):
        return None
    options = data.get(FILES_OPTIONS_KEY)
    if isinstance(options, Mapping) and "enabled" in options:
        return bool(options["enabled"])
    return None


def is_enabled(record: Any) -> bool:
    """Tell whether the record's files are enabled (true when unsaid)."""
    flag = stored_flag(record)
    return True if flag is None else flag


def set_flag(data: Any, enabled: bool) -> None:
    """Write ``{"files": {"enabled": enabled}}`` into a record's data.

    Other keys of ``data["files"]`` are kept.
    """
    options = data.get(FILES_OPTIONS_KEY)
    options = dict(options) if isinstance(options, Mapping) else {}
    options["enabled"] = bool(enabled)
    data[FILES_OPTIONS_KEY] = options


__all__ = ("FILES_OPTIONS_KEY", "is_enabled", "set_flag", "stored_flag")
