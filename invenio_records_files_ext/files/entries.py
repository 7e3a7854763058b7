"""The shape of a file entry as users see it (``record["_files"]`` items).

An entry is a plain dict: the fields describing the stored file (see
:data:`FILE_FIELDS`) plus whatever per-file metadata users set. In the
database the metadata is a JSON column of the file's row
(:class:`~invenio_records_files_ext.models.FileEntry`); the file fields
come from the object version and file instance it names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional, TypedDict

from ..errors import InvalidMetadataError, ReservedMetadataError
from ..storage.checksums import entry_checksums, loaded_checksums

FILES_KEY = "_files"
"""Record key holding the list of entries."""

MEDIA_FILES_KEY = "_media_files"
"""Record key holding the list of media files entries."""

DEFAULT_PREVIEW_KEY = "_default_preview"
"""Record key naming the file to preview by default."""

SUMMARY_KEY = "_files_summary"
"""Dump key holding :class:`FilesSummary` data."""

EXTRACTED_KEY = "_extracted"
"""Per-file metadata key where the library stores what processors extracted."""

RESERVED_METADATA = frozenset((EXTRACTED_KEY,))
"""Per-file metadata names the library writes and users may not."""

FILE_FIELDS = (
    "bucket",
    "checksum",
    "checksums",
    "file_id",
    "key",
    "mimetype",
    "size",
    "version_id",
)
"""Entry fields that describe the stored file; all others are metadata."""


class FileFields(TypedDict):
    """The file fields of an entry (per-file metadata is added beside them)."""

    bucket: str
    checksum: Optional[str]
    checksums: dict[str, str]
    file_id: str
    key: str
    mimetype: Optional[str]
    size: Optional[int]
    version_id: str


class FilesSummary(TypedDict):
    """What ``_files_summary`` holds."""

    count: int
    total_bytes: int
    mimetypes: list[str]
    default_preview: Optional[str]
    inline: bool


def make_fields(
    bucket_id: Any,
    key: str,
    version_id: Any,
    file_id: Any,
    checksum: Optional[str],
    size: Optional[int],
    mimetype: Optional[str],
    checksums: Optional[Mapping[str, str]] = None,
) -> FileFields:
    """Return the file fields of an entry from their values.

    ``checksums`` holds the file's MD5 (from ``checksum``) and, when
    given, the other stored checksums (algorithm -> hex digest): see
    :func:`~invenio_records_files_ext.storage.checksums.fill_entries`.
    """
    return {
        "bucket": str(bucket_id),
        "checksum": checksum,
        "checksums": entry_checksums(checksum, checksums),
        "file_id": str(file_id),
        "key": key,
        "mimetype": mimetype,
        "size": size,
        "version_id": str(version_id),
    }


def file_fields(obj: Any, file: Any = None) -> FileFields:
    """Return the entry fields describing an object version's file.

    :param obj: an :class:`~invenio_files_rest.models.ObjectVersion`.
    :param file: its file instance, when ``obj.file`` is not loaded.
    """
    file = file if file is not None else obj.file
    return make_fields(
        obj.bucket_id,
        obj.key,
        obj.version_id,
        file.id,
        file.checksum,
        file.size,
        obj.mimetype,
        loaded_checksums(file),
    )


def check_metadata(name: Any, value: Any) -> Any:
    """Refuse per-file metadata the database cannot hold as given.

    Names are non-empty strings; values must be JSON (no ``NaN`` or
    infinities, only string keys) without NUL characters, which PostgreSQL's
    JSONB refuses: better a clear error now than a failed commit later.

    :raises invenio_records_files_ext.errors.InvalidMetadataError: a
        :class:`ValueError`.
    """
    if not isinstance(name, str) or not name:
        raise InvalidMetadataError(name, "a name must be a non-empty string")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidMetadataError(
            name, "the value is not JSON ({0})".format(error)
        ) from error
    if "\\u0000" in encoded or "\x00" in name:
        raise InvalidMetadataError(name, "NUL characters cannot be stored")
    if json.loads(encoded) != value:
        # Tuples, non-string keys...: stored, they would read back otherwise.
        raise InvalidMetadataError(name, "the value does not survive JSON as it is")
    return value


def check_user_metadata_name(name: Any) -> None:
    """Refuse a metadata name the library keeps for itself.

    Every path that takes a user's per-file metadata calls it: announcing
    files (:mod:`invenio_records_files_ext.transfers`), setting a value
    (``record.files[key][name] = value``, and the REST routes on top).
    The names are :data:`RESERVED_METADATA` and the file fields
    (:data:`FILE_FIELDS`), which metadata would shadow.

    :raises invenio_records_files_ext.errors.ReservedMetadataError: an
        :class:`~invenio_records_files_ext.errors.InvalidMetadataError`.
    """
    if name in RESERVED_METADATA or name in FILE_FIELDS:
        raise ReservedMetadataError(name)


def without_content_metadata(data: Optional[dict[str, Any]]) -> dict[str, Any]:
    """Return per-file metadata less what described the previous bytes.

    A file replaced by new bytes keeps its metadata, but not what was
    extracted from the old bytes (processors run again on the new ones).
    """
    kept = dict(data or {})
    kept.pop(EXTRACTED_KEY, None)
    return kept


def user_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    """Return the user's per-file metadata of an entry (no file fields)."""
    return {k: v for k, v in entry.items() if k not in FILE_FIELDS}


def summarize(
    entries: list[dict[str, Any]], default_preview: Optional[str], inline: bool = True
) -> FilesSummary:
    """Return the summary of a list of entries (no database access)."""
    mimetypes = sorted(
        {entry["mimetype"] for entry in entries if entry.get("mimetype")}
    )
    return {
        "count": len(entries),
        "total_bytes": sum(entry.get("size") or 0 for entry in entries),
        "mimetypes": mimetypes,
        "default_preview": default_preview,
        "inline": inline,
    }
