"""Every read of a bucket's file rows, written once.

A file row (:class:`~invenio_records_files_ext.models.FileEntry`) names
its object version; the queries here join it with that version and its
file instance by primary key, filter completed files, and order by the
record's order (``position``, then ``key``). Each function costs one query
whatever the number of files, except the iterators, which cost one query
per chunk and keep one chunk in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance, ObjectVersion, ObjectVersionTag
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, contains_eager, selectinload

from ..db import cursors
from ..db.sql import chunks, utc_column
from ..models import COMPLETED, FileEntry
from ..storage.checksums import fill_entries
from .entries import FilesSummary, make_fields

ITER_CHUNK_SIZE = 1000
"""Files read per query when iterating."""


@dataclass(frozen=True)
class Cursor:
    """A place in the record's order: just after (or before) this file."""

    position: int
    key: str

    def encode(self) -> str:
        """Return the cursor as an opaque, URL-safe string."""
        return cursors.encode([self.position, self.key])

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Read a cursor made by :meth:`encode`.

        :raises invenio_records_files_ext.errors.InvalidCursorError: if it
            is not one.
        """
        position, key = cursors.decode(value, int, str)
        return cls(position, key)


@dataclass(frozen=True)
class StoredEntry:
    """A file row as the writer needs it (pending rows included)."""

    id: Any
    key: str
    position: int
    version_id: Any
    status: str
    preview: bool
    json: dict[str, Any]
    size: Optional[int] = None
    mimetype: Optional[str] = None


class VersionEntry(NamedTuple):
    """A completed file: its object version and its entry."""

    obj: Any
    """The :class:`~invenio_files_rest.models.ObjectVersion`, with its file."""
    entry: dict[str, Any]
    """The file's entry (see :mod:`~invenio_records_files_ext.files.entries`)."""


@dataclass
class Page:
    """One page of a listing in the record's order."""

    items: list[VersionEntry]
    """``(object version, entry)`` pairs; the version has its file and tags."""

    next: Optional[Cursor]
    """Cursor for the following page, if there is one."""

    prev: Optional[Cursor]
    """Cursor for the preceding page, if there is one."""


def _session(session: Optional[Session]) -> Session:
    return session if session is not None else db.session()


def _order() -> tuple[Any, Any]:
    return (FileEntry.position, FileEntry.key)


def _after(cursor: Cursor) -> ColumnElement[bool]:
    """Rows placed after ``cursor`` in the record's order."""
    return tuple_(*_order()) > _cursor_value(cursor)


def _before(cursor: Cursor) -> ColumnElement[bool]:
    """Rows placed before ``cursor`` in the record's order."""
    return tuple_(*_order()) < _cursor_value(cursor)


def _cursor_value(cursor: Cursor) -> ColumnElement[Any]:
    # Bound with the columns' types, so that the row comparison reads the
    # values as the columns do.
    return tuple_(
        literal(cursor.position, FileEntry.position.type),
        literal(cursor.key, FileEntry.key.type),
    )


def _completed(bucket_id: Any) -> Any:
    return and_(FileEntry.bucket_id == bucket_id, FileEntry.status == COMPLETED)


ENTRY_COLUMNS = (  # the columns of an entry, joined by primary key
    FileEntry.key,
    FileEntry.version_id,
    ObjectVersion.file_id,
    FileInstance.checksum,
    FileInstance.size,
    FileEntry.mimetype,
    FileEntry.json,
    FileEntry.preview,
    FileEntry.position,
    ObjectVersion._mimetype.label("stored_mimetype"),
)


def _joined(*columns: Any) -> Select[Any]:
    return (
        select(*columns)
        .select_from(FileEntry)
        .join(ObjectVersion, ObjectVersion.version_id == FileEntry.version_id)
        .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
    )


def entry_from_row(bucket_id: Any, row: Any) -> dict[str, Any]:
    """Return the entry dict of a row selected with ``ENTRY_COLUMNS``."""
    entry = dict(row.json or {})
    entry.update(
        make_fields(
            bucket_id,
            row.key,
            row.version_id,
            row.file_id,
            row.checksum,
            row.size,
            row.mimetype,
        )
    )
    return entry


@dataclass
class InlineEntries:
    """The first files of a bucket, for ``record["_files"]`` and dumps."""

    entries: list[dict[str, Any]]
    default_preview: Optional[str]
    complete: bool
    """False when the bucket holds more files than were asked for."""


def inline_entries(
    bucket_id: Any, limit: int, session: Optional[Session] = None
) -> InlineEntries:
    """Return up to ``limit`` entries in order (one query of ``limit + 1`` rows)."""
    rows = (
        _session(session)
        .execute(
            _joined(*ENTRY_COLUMNS)
            .where(_completed(bucket_id))
            .order_by(*_order())
            .limit(limit + 1)
        )
        .all()
    )
    complete = len(rows) <= limit
    rows = rows[:limit]
    preview = next((row.key for row in rows if row.preview), None)
    bucket = str(bucket_id)  # once, not per row
    entries = [entry_from_row(bucket, row) for row in rows]
    fill_entries(entries)
    return InlineEntries(entries, preview, complete)


def count(bucket_id: Any, session: Optional[Session] = None) -> int:
    """Return the number of completed files."""
    return int(
        _session(session)
        .execute(
            select(func.count()).select_from(FileEntry).where(_completed(bucket_id))
        )
        .scalar()
        or 0
    )


def contains(bucket_id: Any, key: str, session: Optional[Session] = None) -> bool:
    """Tell whether a completed file has this key."""
    return (
        _session(session)
        .execute(
            select(FileEntry.id).where(_completed(bucket_id), FileEntry.key == key)
        )
        .first()
        is not None
    )


def keys(bucket_id: Any, session: Optional[Session] = None) -> list[str]:
    """Return the keys of the completed files, in order."""
    return list(
        _session(session)
        .execute(select(FileEntry.key).where(_completed(bucket_id)).order_by(*_order()))
        .scalars()
    )


def default_preview(bucket_id: Any, session: Optional[Session] = None) -> Optional[str]:
    """Return the key of the default preview, or ``None``."""
    return (
        _session(session)
        .execute(
            select(FileEntry.key).where(
                _completed(bucket_id), FileEntry.preview.is_(True)
            )
        )
        .scalars()
        .first()
    )


def summary(bucket_id: Any, session: Optional[Session] = None) -> FilesSummary:
    """Return count, bytes, MIME types and default preview (two queries)."""
    session = _session(session)
    total, size, preview = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(FileEntry.size), 0),
            func.max(case((FileEntry.preview.is_(True), FileEntry.key))),
        ).where(_completed(bucket_id))
    ).one()
    mimetypes = session.execute(
        select(FileEntry.mimetype)
        .where(_completed(bucket_id), FileEntry.mimetype.isnot(None))
        .distinct()
    ).scalars()
    return {
        "count": int(total),
        "total_bytes": int(size),
        "mimetypes": sorted(mimetypes),
        "default_preview": preview,
        "inline": False,
    }


def _files_query(bucket_id: Any) -> Select[Any]:
    return (
        select(ObjectVersion, FileEntry.json, FileEntry.mimetype, FileEntry.position)
        .select_from(FileEntry)
        .join(ObjectVersion, ObjectVersion.version_id == FileEntry.version_id)
        .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
        .options(contains_eager(ObjectVersion.file))
        .where(_completed(bucket_id))
    )


def _file_pair(row: Any) -> VersionEntry:
    obj, data, mimetype, _ = row
    file = obj.file
    entry = dict(data or {})
    entry.update(
        make_fields(
            obj.bucket_id,
            obj.key,
            obj.version_id,
            file.id,
            file.checksum,
            file.size,
            mimetype,
        )
    )
    return VersionEntry(obj, entry)


def _filled(pairs: list[VersionEntry]) -> list[VersionEntry]:
    """``pairs``, their entries given every stored checksum (one query)."""
    fill_entries(pair.entry for pair in pairs)
    return pairs


def get_file(
    bucket_id: Any, key: str, session: Optional[Session] = None
) -> Optional[VersionEntry]:
    """Return ``(object version, entry)`` of a completed file, or ``None``."""
    row = (
        _session(session)
        .execute(_files_query(bucket_id).where(FileEntry.key == key))
        .first()
    )
    return _filled([_file_pair(row)])[0] if row is not None else None


def iterate(
    bucket_id: Any,
    chunk_size: int = ITER_CHUNK_SIZE,
    session: Optional[Session] = None,
) -> Iterator[VersionEntry]:
    """Yield ``(object version, entry)`` in order, reading chunk by chunk."""
    session = _session(session)
    after: Optional[Cursor] = None
    while True:
        query = _files_query(bucket_id)
        if after is not None:
            query = query.where(_after(after))
        rows = session.execute(query.order_by(*_order()).limit(chunk_size)).all()
        yield from _filled([_file_pair(row) for row in rows])
        if len(rows) < chunk_size:
            return
        last = rows[-1]
        after = Cursor(last.position, last[0].key)


def iterate_rows(
    bucket_id: Any,
    chunk_size: int = ITER_CHUNK_SIZE,
    session: Optional[Session] = None,
) -> Iterator[Any]:
    """Yield rows of ``ENTRY_COLUMNS`` in order, chunk by chunk.

    Lighter than :func:`iterate` (no ORM objects): for dumps and copies.
    """
    session = _session(session)
    after: Optional[Cursor] = None
    while True:
        query = _joined(*ENTRY_COLUMNS).where(_completed(bucket_id))
        if after is not None:
            query = query.where(_after(after))
        rows = session.execute(query.order_by(*_order()).limit(chunk_size)).all()
        yield from rows
        if len(rows) < chunk_size:
            return
        after = Cursor(rows[-1].position, rows[-1].key)


def page(
    bucket_id: Any,
    size: int,
    after: Optional[Cursor] = None,
    before: Optional[Cursor] = None,
    session: Optional[Session] = None,
) -> Page:
    """Return one page of at most ``size`` files after or before a cursor.

    Two queries (files, then their tags) whatever the page or the record.
    """
    session = _session(session)
    query = _files_query(bucket_id).options(selectinload(ObjectVersion.tags))
    if before is not None:
        query = query.where(_before(before)).order_by(
            FileEntry.position.desc(), FileEntry.key.desc()
        )
    else:
        if after is not None:
            query = query.where(_after(after))
        query = query.order_by(*_order())
    found = session.execute(query.limit(size + 1)).all()
    more = len(found) > size
    rows = list(found[:size])
    if before is not None:
        rows.reverse()
    items = _filled([_file_pair(row) for row in rows])
    first = Cursor(rows[0].position, rows[0][0].key) if rows else None
    last = Cursor(rows[-1].position, rows[-1][0].key) if rows else None
    if before is not None:
        return Page(items, next=last if rows else before, prev=first if more else None)
    return Page(
        items,
        next=last if more else None,
        prev=first if after is not None and rows else None,
    )


LISTED_COLUMNS = ENTRY_COLUMNS + (
    # Invenio-DB's time type would make the statement compiled every time.
    utc_column(ObjectVersion.created),
    utc_column(ObjectVersion.updated),
    ObjectVersion.is_head,
    FileInstance.storage_class,
)
"""What a listing shows of a file: its entry, its version's dates, its storage."""


@dataclass
class RowsPage:
    """One page of a listing as rows of :data:`LISTED_COLUMNS` (no ORM objects)."""

    rows: list[Any]
    """The page's rows, in the record's order."""

    entries: list[dict[str, Any]]
    """The entry of each row (see :func:`entry_from_row`)."""

    tags: dict[Any, dict[str, str]]
    """The tags of the page's object versions: version id -> {key: value}."""

    next: Optional[Cursor]
    prev: Optional[Cursor]


def page_statement(
    bucket_id: Any, after: Optional[Cursor] = None, before: Optional[Cursor] = None
) -> Select[Any]:
    """The statement selecting a listing page's rows (add its ``limit``)."""
    query = _joined(*LISTED_COLUMNS).where(_completed(bucket_id))
    if before is not None:
        return query.where(_before(before)).order_by(
            FileEntry.position.desc(), FileEntry.key.desc()
        )
    if after is not None:
        query = query.where(_after(after))
    return query.order_by(*_order())


_BUILT: dict[str, Any] = {}


def _built(name: str) -> Any:
    """A listing statement, built once (values bound when it runs).

    Building a statement with its joins and conditions costs about as much
    as running it on a small page: the listing's are built once.
    """
    found = _BUILT.get(name)
    if found is None:
        found = _BUILT[name] = _BUILDERS[name]()
    return found


def _bound_cursor(prefix: str) -> Any:
    return tuple_(
        bindparam(prefix + "_position", type_=FileEntry.position.type),
        bindparam(prefix + "_key", type_=FileEntry.key.type),
    )


def _bound_completed() -> Any:
    return and_(
        FileEntry.bucket_id == bindparam("bucket_id", type_=FileEntry.bucket_id.type),
        FileEntry.status == COMPLETED,
    )


def _page_select(direction: str) -> Any:
    # ``has_tags``: most pages have none, and then their tags are not read.
    has_tags = (
        exists()
        .where(ObjectVersionTag.version_id == ObjectVersion.version_id)
        .label("has_tags")
    )
    query = _joined(*LISTED_COLUMNS, has_tags).where(_bound_completed())
    if direction == "before":
        query = query.where(tuple_(*_order()) < _bound_cursor("cursor")).order_by(
            FileEntry.position.desc(), FileEntry.key.desc()
        )
    else:
        if direction == "after":
            query = query.where(tuple_(*_order()) > _bound_cursor("cursor"))
        query = query.order_by(*_order())
    return query.limit(bindparam("limit", type_=Integer))


def _tags_select() -> Any:
    # The page's files are those between its first and last cursor: their
    # tags in one query, with no list of ids to bind.
    span = (
        select(FileEntry.version_id)
        .where(_bound_completed())
        .where(tuple_(*_order()) >= _bound_cursor("first"))
        .where(tuple_(*_order()) <= _bound_cursor("last"))
    )
    return select(
        ObjectVersionTag.version_id, ObjectVersionTag.key, ObjectVersionTag.value
    ).where(ObjectVersionTag.version_id.in_(span.scalar_subquery()))


_BUILDERS = {
    "first": lambda: _page_select("first"),
    "after": lambda: _page_select("after"),
    "before": lambda: _page_select("before"),
    "tags": _tags_select,
}


def _page_tags(
    session: Session, bucket_id: Any, first: Cursor, last: Cursor
) -> dict[Any, dict[str, str]]:
    tags: dict[Any, dict[str, str]] = {}
    values = {
        "bucket_id": bucket_id,
        "first_position": first.position,
        "first_key": first.key,
        "last_position": last.position,
        "last_key": last.key,
    }
    for version_id, key, value in session.execute(_built("tags"), values):
        tags.setdefault(version_id, {})[key] = value
    return tags


def rows_page(
    bucket_id: Any,
    size: int,
    after: Optional[Cursor] = None,
    before: Optional[Cursor] = None,
    session: Optional[Session] = None,
) -> RowsPage:
    """Return one page of at most ``size`` files, as rows, after or before a cursor.

    Like :func:`page` without ORM objects: two queries (the files, then
    their tags) whatever the page or the record.
    """
    session = _session(session)
    cursor = before if before is not None else after
    values: dict[str, Any] = {"bucket_id": bucket_id, "limit": size + 1}
    if cursor is not None:
        values.update(cursor_position=cursor.position, cursor_key=cursor.key)
    direction = "before" if before is not None else "after" if after else "first"
    found = session.execute(_built(direction), values).all()
    more = len(found) > size
    rows = list(found[:size])
    if before is not None:
        rows.reverse()
    first = Cursor(rows[0].position, rows[0].key) if rows else None
    last = Cursor(rows[-1].position, rows[-1].key) if rows else None
    tags = {}
    if first and last and any(row.has_tags for row in rows):
        tags = _page_tags(session, bucket_id, first, last)
    bucket = str(bucket_id)  # once, not per row
    entries = [entry_from_row(bucket, row) for row in rows]
    fill_entries(entries)
    if before is not None:
        return RowsPage(
            rows,
            entries,
            tags,
            next=last if rows else before,
            prev=first if more else None,
        )
    return RowsPage(
        rows,
        entries,
        tags,
        next=last if more else None,
        prev=first if after is not None and rows else None,
    )


def stored_entries(
    bucket_id: Any,
    keys: Sequence[str],
    session: Optional[Session] = None,
) -> dict[str, StoredEntry]:
    """Return the rows of ``keys`` (any status), by key."""
    session = _session(session)
    found: dict[str, StoredEntry] = {}
    for chunk in chunks(keys):
        for row in session.execute(
            select(
                FileEntry.id,
                FileEntry.key,
                FileEntry.position,
                FileEntry.version_id,
                FileEntry.status,
                FileEntry.preview,
                FileEntry.json,
                FileEntry.size,
                FileEntry.mimetype,
            ).where(FileEntry.bucket_id == bucket_id, FileEntry.key.in_(chunk))
        ):
            found[row.key] = StoredEntry(
                row.id,
                row.key,
                row.position,
                row.version_id,
                row.status,
                bool(row.preview),
                dict(row.json or {}),
                row.size,
                row.mimetype,
            )
    return found


def keys_of_file_ids(
    bucket_id: Any, file_ids: Sequence[str], session: Optional[Session] = None
) -> dict[str, str]:
    """Return ``{file id: key}`` for completed files with these file ids."""
    wanted = set()
    for file_id in file_ids:
        try:
            wanted.add(_uuid(file_id))
        except ValueError:
            continue
    if not wanted:
        return {}
    rows = _session(session).execute(
        _joined(ObjectVersion.file_id, FileEntry.key).where(
            _completed(bucket_id), ObjectVersion.file_id.in_(list(wanted))
        )
    )
    return {str(file_id): key for file_id, key in rows}


def _uuid(value: Any) -> Any:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def next_position(bucket_id: Any, session: Optional[Session] = None) -> int:
    """Return the position after the last row of the bucket."""
    last = (
        _session(session)
        .execute(
            select(func.max(FileEntry.position)).where(FileEntry.bucket_id == bucket_id)
        )
        .scalar()
    )
    return (last or 0) + 1


def first_position(bucket_id: Any, session: Optional[Session] = None) -> int:
    """Return the position of the first row of the bucket (1 if none)."""
    first = (
        _session(session)
        .execute(
            select(func.min(FileEntry.position)).where(FileEntry.bucket_id == bucket_id)
        )
        .scalar()
    )
    return first if first is not None else 1


STORED_COLUMNS = (
    FileEntry.key,
    FileEntry.position,
    FileEntry.version_id,
    FileInstance.id.label("file_id"),
    FileInstance.uri,
    FileInstance.storage_class,
    FileInstance.size,
    FileInstance.checksum,
    FileInstance.updated,
)
"""What reading a file's bytes needs: its file instance's columns."""


def stored_page(
    bucket_id: Any,
    after: Optional[Cursor] = None,
    size: int = ITER_CHUNK_SIZE,
    session: Optional[Session] = None,
) -> list[Any]:
    """Return up to ``size`` completed files after ``after``, in order.

    Rows of :data:`STORED_COLUMNS` (no ORM objects): for readers of the
    bytes, such as the files archive. One query.
    """
    query = _joined(*STORED_COLUMNS).where(_completed(bucket_id))
    if after is not None:
        query = query.where(_after(after))
    return list(_session(session).execute(query.order_by(*_order()).limit(size)))
