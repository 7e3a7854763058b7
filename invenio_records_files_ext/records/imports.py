"""New versions and files-import: start without files, import them on request.

A new version of a record is a new record with its own bucket. By default
it starts with the previous version's files (:func:`new_version` with
``import_files=True``, what ``new.files.copy(previous)`` does by hand):
same keys, order and per-file metadata, the same stored bytes. InvenioRDM
lets a new version start empty and import the previous version's files
later, on request (its ``POST .../draft/actions/files-import``); so does
this module: ``new_version(..., import_files=False)`` and then
:func:`import_files`, in Python or through ``POST <item
route>/actions/files-import`` (:mod:`invenio_records_files_ext.rest.imports`).

Which record a new version was made from is kept with its bucket (a
bucket tag, :data:`PREVIOUS_VERSION_TAG`, set by :func:`new_version` or
:func:`mark_new_version`): it survives any update of the record's JSON.
Importing is refused (400, :class:`~invenio_records_files_ext.errors.FilesImportError`)
when the record is not a new version, when the record named as the
previous version is not the one it was made from, and when the new version
already has files (completed or pending, media files included).
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import BucketTag
from sqlalchemy.exc import NoResultFound

from ..db import locks
from ..errors import (
    FilesAlreadyImportedError,
    NotANewVersionError,
    NotThePreviousVersionError,
)

PREVIOUS_VERSION_TAG = "invenio-records-files-ext:previous-version"
"""Key of the bucket tag naming the record a new version was made from."""


def mark_new_version(record: Any, previous: Any) -> None:
    """Note that ``record`` is a new version of ``previous`` (replaces any earlier note).

    :raises ~invenio_records_files_ext.errors.NotANewVersionError: if the
        record has no bucket (files disabled): it can never import files.
    """
    bucket = record.bucket
    if bucket is None:
        raise NotANewVersionError(
            "The record has no bucket (files disabled): it cannot import files."
        )
    session = db.session()
    tag = session.get(BucketTag, (bucket.id, PREVIOUS_VERSION_TAG))
    if tag is None:
        session.add(
            BucketTag(bucket=bucket, key=PREVIOUS_VERSION_TAG, value=str(previous.id))
        )
    else:
        tag.value = str(previous.id)


def previous_version_id(record: Any) -> Optional[uuid.UUID]:
    """Return the id of the record ``record`` was made from, or ``None``."""
    bucket = record.bucket
    if bucket is None:
        return None
    tag = db.session.get(BucketTag, (bucket.id, PREVIOUS_VERSION_TAG))
    return uuid.UUID(tag.value) if tag is not None else None


def previous_version(record: Any) -> Any:
    """Return the record ``record`` was made from.

    :raises ~invenio_records_files_ext.errors.NotANewVersionError: the
        record was not made as a new version, or that record is gone.
    """
    parent_id = previous_version_id(record)
    if parent_id is None:
        raise NotANewVersionError()
    try:
        return type(record).get_record(parent_id)
    except NoResultFound:
        raise NotANewVersionError(
            "The version this record was made from no longer exists."
        ) from None


def new_version(
    previous: Any,
    data: dict[str, Any],
    record_class: Any = None,
    import_files: bool = True,
    **kwargs: Any,
) -> Any:
    """Create a new version of ``previous``: a new record, its files imported or not.

    :param data: the new record's metadata.
    :param record_class: the class of the new record (default: the
        previous version's).
    :param import_files: import the previous version's files now (the
        default); ``False`` starts without files, to be imported later with
        :func:`import_files` (or never).
    :param kwargs: handed to ``record_class.create`` (``id_``...).
    :returns: the new record. The caller commits.
    """
    record_class = record_class or type(previous)
    record = record_class.create(data, **kwargs)
    if record.bucket is not None:
        mark_new_version(record, previous)
        if import_files:
            _copy(record, previous)
    return record


def _has_files(record: Any) -> bool:
    files = record.files
    if len(files) or len(files.transfers):
        return True
    media = record.media_files
    return media is not None and bool(len(media))


def import_files(record: Any, previous: Any = None) -> list[str]:
    """Import the files of the version ``record`` was made from; return their keys.

    The bytes are shared (no copy in storage); keys, order, per-file
    metadata, the default preview and the media files are kept, as
    :meth:`~invenio_records_files_ext.api.FilesIterator.copy` does.

    :param previous: the previous version, checked against the one the
        record was made from (default: that one, read from the database).
    :raises ~invenio_records_files_ext.errors.NotANewVersionError: the
        record was not made as a new version, or its previous version is
        gone.
    :raises ~invenio_records_files_ext.errors.NotThePreviousVersionError:
        ``previous`` is another record.
    :raises ~invenio_records_files_ext.errors.FilesAlreadyImportedError:
        the record already has files (completed or pending).
    """
    parent_id = previous_version_id(record)
    if parent_id is None:
        raise NotANewVersionError()
    if previous is not None and previous.id != parent_id:
        raise NotThePreviousVersionError(
            "Record {0} is not the version record {1} was made from.".format(
                previous.id, record.id
            )
        )
    if previous is None:
        previous = previous_version(record)
    return _copy(record, previous)


def _copy(record: Any, previous: Any) -> list[str]:
    # Under the bucket's lock: two imports at once cannot both find the
    # new version empty.
    locks.lock_bucket(record.bucket.id)
    if _has_files(record):
        raise FilesAlreadyImportedError()
    keys: list[str] = record.files.copy(previous)
    return keys


__all__ = (
    "PREVIOUS_VERSION_TAG",
    "import_files",
    "mark_new_version",
    "new_version",
    "previous_version",
    "previous_version_id",
)
