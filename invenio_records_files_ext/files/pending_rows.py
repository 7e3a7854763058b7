"""Every read and write of pending files' transfer rows.

A pending file is a :class:`~invenio_records_files_ext.models.FileEntry`
row with status ``pending`` plus its
:class:`~invenio_records_files_ext.models.FileTransfer` row. Callers hold
the key locks and run inside a step; each function costs one statement
(or one per chunk of keys).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any, Optional

from invenio_db import db
from sqlalchemy import Select, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from ..db.sql import chunks, utc_column
from ..models import PENDING, FileEntry, FileTransfer

_CHUNK = 1000


@dataclass(frozen=True)
class PendingFile:
    """A pending file: its row and its transfer, as one value."""

    entry_id: Any
    bucket_id: Any
    key: str
    position: int
    metadata: dict[str, Any]
    mimetype: Optional[str]
    created: Any
    type: str
    state: str
    file_id: Any
    size: Optional[int]
    """Announced size (or the size received, for a local upload)."""
    checksum: Optional[str]
    reserved: int
    error: Optional[str]
    details: dict[str, Any]
    updated: Any


def _session(session: Optional[Session]) -> Session:
    return session if session is not None else db.session()


def _now() -> datetime:
    return datetime.now(tz=timezone.utc)


_COLUMNS = (
    FileEntry.id.label("entry_id"),
    FileEntry.bucket_id,
    FileEntry.key,
    FileEntry.position,
    FileEntry.json.label("metadata"),
    FileEntry.mimetype,
    # Invenio-DB's time type would make the statement compiled every time.
    utc_column(FileEntry.created),
    FileTransfer.type,
    FileTransfer.state,
    FileTransfer.file_id,
    FileTransfer.size,
    FileTransfer.checksum,
    FileTransfer.reserved,
    FileTransfer.error,
    FileTransfer.json.label("details"),
    utc_column(FileTransfer.updated),
)


def _query() -> Select[Any]:
    return (
        select(*_COLUMNS)
        .select_from(FileEntry)
        .join(FileTransfer, FileTransfer.entry_id == FileEntry.id)
        .where(FileEntry.status == PENDING)
    )


def _pending(row: Any) -> PendingFile:
    values = row._asdict()
    values["metadata"] = dict(values["metadata"] or {})
    values["details"] = dict(values["details"] or {})
    values["reserved"] = int(values["reserved"] or 0)
    return PendingFile(**values)


def by_keys(
    bucket_id: Any, keys: Sequence[str], session: Optional[Session] = None
) -> dict[str, PendingFile]:
    """Return the pending files of ``keys``, by key."""
    session = _session(session)
    found: dict[str, PendingFile] = {}
    for chunk in chunks(keys):
        for row in session.execute(
            _query().where(FileEntry.bucket_id == bucket_id, FileEntry.key.in_(chunk))
        ):
            found[row.key] = _pending(row)
    return found


@cache
def _key_statement() -> Select[Any]:
    # Built once: each part of a multipart upload reads its file twice.
    return _query().where(
        FileEntry.bucket_id == bindparam("bucket_id"),
        FileEntry.key == bindparam("key"),
    )


def get(
    bucket_id: Any, key: str, session: Optional[Session] = None
) -> Optional[PendingFile]:
    """Return the pending file ``key``, or ``None``."""
    row = (
        _session(session)
        .execute(_key_statement(), {"bucket_id": bucket_id, "key": key})
        .first()
    )
    return None if row is None else _pending(row)


@cache
def _chunk_statement(after: bool) -> Select[Any]:
    # Built once (a listing reads the first chunk on every page), the
    # values bound when it runs.
    query = _query().where(FileEntry.bucket_id == bindparam("bucket_id"))
    if after:
        query = query.where(
            tuple_(FileEntry.position, FileEntry.key)
            > tuple_(
                bindparam("after_position", type_=FileEntry.position.type),
                bindparam("after_key", type_=FileEntry.key.type),
            )
        )
    return query.order_by(FileEntry.position, FileEntry.key).limit(_CHUNK)


def iterate(bucket_id: Any, session: Optional[Session] = None) -> Iterator[PendingFile]:
    """Yield a bucket's pending files in the record's order, chunk by chunk."""
    session = _session(session)
    values: dict[str, Any] = {"bucket_id": bucket_id}
    while True:
        rows = session.execute(_chunk_statement("after_key" in values), values).all()
        for row in rows:
            yield _pending(row)
        if len(rows) < _CHUNK:
            return
        values.update(after_position=rows[-1].position, after_key=rows[-1].key)


def count(bucket_id: Any, session: Optional[Session] = None) -> int:
    """Return the number of pending files of a bucket."""
    return int(
        _session(session)
        .execute(
            select(func.count())
            .select_from(FileEntry)
            .where(FileEntry.bucket_id == bucket_id, FileEntry.status == PENDING)
        )
        .scalar()
        or 0
    )


def abandoned(cutoff: datetime, session: Optional[Session] = None) -> list[PendingFile]:
    """Return the pending files whose transfer has not moved since ``cutoff``."""
    rows = _session(session).execute(
        _query().where(FileTransfer.updated < cutoff).order_by(FileTransfer.updated)
    )
    return [_pending(row) for row in rows]


def insert_many(
    values: Sequence[dict[str, Any]], session: Optional[Session] = None
) -> None:
    """Insert transfer rows (``entry_id``, ``type``, ``state``, ...)."""
    session = _session(session)
    now = _now()
    rows = []
    for value in values:
        row: dict[str, Any] = dict(
            file_id=None,
            size=None,
            checksum=None,
            reserved=0,
            error=None,
            json={},
            created=now,
            updated=now,
        )
        row.update(value)
        rows.append(row)
    for chunk in chunks(rows, 1000):
        session.execute(insert(FileTransfer), chunk)


@cache
def _change_statement(names: tuple[str, ...]) -> Any:
    # One statement per set of columns changed, built once: a multipart
    # upload changes its row once per part. The values are bound as
    # ``new_<column>`` (a column's own name is SQLAlchemy's in an UPDATE).
    columns = FileTransfer.__table__.c
    return (
        update(FileTransfer)
        .where(FileTransfer.entry_id == bindparam("row_id"))
        .values(
            {name: bindparam("new_" + name, type_=columns[name].type) for name in names}
        )
        .execution_options(synchronize_session=False)
    )


def change(entry_id: Any, session: Optional[Session] = None, **values: Any) -> datetime:
    """Change a transfer row (its ``updated`` time too); return that time."""
    updated = _now()
    values["updated"] = updated
    bound = {"new_" + name: value for name, value in values.items()}
    _session(session).execute(
        _change_statement(tuple(sorted(values))), dict(bound, row_id=entry_id)
    )
    return updated


def delete_transfers(
    entry_ids: Sequence[Any], session: Optional[Session] = None
) -> None:
    """Delete transfer rows (the file rows stay)."""
    session = _session(session)
    for chunk in chunks(entry_ids):
        session.execute(
            delete(FileTransfer)
            .where(FileTransfer.entry_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
