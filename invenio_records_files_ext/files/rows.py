"""Every write to the file rows, as plain statements.

Callers hold the locks (:mod:`~invenio_records_files_ext.db.locks`) and run inside a step
(:mod:`~invenio_records_files_ext.db.steps`); these functions only say how a row changes. Each one
costs one statement whatever the number of files in the bucket.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Optional

from invenio_db import db
from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.orm import Session

from ..db.sql import chunks
from ..models import COMPLETED, FileEntry


def _session(session: Optional[Session]) -> Session:
    return session if session is not None else db.session()


def _now() -> datetime:
    return datetime.now(tz=timezone.utc)


# Values travel as execution parameters, never inside the statements: a
# statement holding a timestamp (Invenio-DB's type is not cacheable) would
# be compiled again on every call.
_TABLE = FileEntry.__table__
_BY_ID = update(_TABLE).where(_TABLE.c.id == bindparam("b_id"))


def new_row(
    bucket_id: Any,
    key: str,
    position: int,
    version_id: Any = None,
    size: Optional[int] = None,
    mimetype: Optional[str] = None,
    metadata: Optional[dict[str, Any]] = None,
    status: str = COMPLETED,
    preview: bool = False,
) -> dict[str, Any]:
    """Return the values of a new row (for :func:`insert_many`)."""
    now = _now()
    return dict(
        id=uuid.uuid4(),
        bucket_id=bucket_id,
        key=key,
        position=position,
        version_id=version_id,
        size=size,
        mimetype=mimetype,
        status=status,
        preview=preview,
        json=dict(metadata or {}),
        created=now,
        updated=now,
    )


def insert_many(
    rows: Sequence[dict[str, Any]], session: Optional[Session] = None
) -> None:
    """Insert rows made by :func:`new_row` (one statement per thousand)."""
    session = _session(session)
    for chunk in chunks(rows, 1000):
        session.execute(insert(FileEntry), chunk)


def insert_one(row: dict[str, Any], session: Optional[Session] = None) -> None:
    """Insert one row made by :func:`new_row`."""
    _session(session).execute(insert(_TABLE), row)


def _update(entry_id: Any, session: Optional[Session], **values: Any) -> None:
    _session(session).execute(_BY_ID, dict(values, b_id=entry_id, updated=_now()))


def point_to(
    entry_id: Any,
    version_id: Any,
    size: Optional[int],
    mimetype: Optional[str],
    session: Optional[Session] = None,
    **values: Any,
) -> None:
    """Make a row name another object version (a replaced or completed file)."""
    _update(
        entry_id,
        session,
        version_id=version_id,
        size=size,
        mimetype=mimetype,
        **values,
    )


def point_many(
    changes: Sequence[dict[str, Any]], session: Optional[Session] = None
) -> None:
    """Apply :func:`point_to` to many rows in one statement per thousand.

    Each change is ``dict(id=..., version_id=..., size=..., mimetype=...,
    json=...)``.
    """
    session = _session(session)
    now = _now()
    params = [
        dict(
            b_id=change["id"],
            version_id=change["version_id"],
            size=change["size"],
            mimetype=change["mimetype"],
            json=change["json"],
            status=COMPLETED,
            updated=now,
        )
        for change in changes
    ]
    for chunk in chunks(params, 1000):
        session.connection().execute(_BY_ID, chunk)


def set_json(
    entry_id: Any, data: dict[str, Any], session: Optional[Session] = None
) -> None:
    """Replace a row's per-file metadata."""
    _update(entry_id, session, json=data)


def set_size(
    entry_id: Any, size: Optional[int], session: Optional[Session] = None
) -> None:
    """Change the size a row shows (a pending file's bytes arrived)."""
    _update(entry_id, session, size=size)


def set_positions(
    positions: Mapping[Any, int], session: Optional[Session] = None
) -> None:
    """Give rows new positions: ``{row id: position}`` (one statement)."""
    if not positions:
        return
    now = _now()
    _session(session).connection().execute(
        _BY_ID,
        [
            dict(b_id=row_id, position=position, updated=now)
            for row_id, position in positions.items()
        ],
    )


def set_preview(
    bucket_id: Any, entry_id: Any, session: Optional[Session] = None
) -> None:
    """Make one row (or none, with ``None``) the bucket's default preview."""
    session = _session(session)
    session.execute(
        update(FileEntry)
        .where(FileEntry.bucket_id == bucket_id, FileEntry.preview.is_(True))
        .values(preview=False)
        .execution_options(synchronize_session=False)
    )
    if entry_id is not None:
        _update(entry_id, session, preview=True)


def delete_rows(entry_ids: Sequence[Any], session: Optional[Session] = None) -> None:
    """Delete rows by id."""
    session = _session(session)
    for chunk in chunks(entry_ids):
        session.execute(
            delete(FileEntry)
            .where(FileEntry.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )


def delete_bucket_rows(bucket_id: Any, session: Optional[Session] = None) -> None:
    """Delete every row of a bucket."""
    _session(session).execute(
        delete(FileEntry)
        .where(FileEntry.bucket_id == bucket_id)
        .execution_options(synchronize_session=False)
    )
