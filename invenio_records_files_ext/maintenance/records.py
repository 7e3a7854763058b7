"""Loading a record for maintenance, with the reasons it cannot be used."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy.exc import NoResultFound

from ..api import Record
from ..errors import NoBucketError, RecordGoneError, RecordNotFoundError
from ..files import FilesIterator
from .identifiers import RecordId, record_uuid


def load_record(record_id: RecordId, allow_deleted: bool = False) -> Record:
    """Return the record (soft-deleted ones only with ``allow_deleted``).

    Messages name the record as ``record_id`` does (a
    :class:`~invenio_records_files_ext.maintenance.identifiers.NamedRecord`
    by its name).

    :raises invenio_records_files_ext.errors.RecordNotFoundError: no
        record has this id.
    :raises invenio_records_files_ext.errors.RecordGoneError: the record is
        soft-deleted and ``allow_deleted`` is false.
    """
    try:
        record = Record.get_record(record_uuid(record_id), with_deleted=True)
    except NoResultFound:
        raise RecordNotFoundError(record_id) from None
    if record.model.is_deleted and not allow_deleted:
        raise RecordGoneError(
            "Record {0} is deleted; restore it before changing its files.".format(
                record_id
            )
        )
    return record  # type: ignore[no-any-return]  # Invenio-Records is untyped


def record_files(record: Record, name: Optional[Any] = None) -> FilesIterator:
    """Return the record's files.

    :param name: how the error names the record (default: its id).
    :raises invenio_records_files_ext.errors.NoBucketError: the record has
        no bucket.
    """
    files = record.files
    if files is None:
        raise NoBucketError(record.id if name is None else name)
    return files
