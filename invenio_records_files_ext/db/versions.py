"""Object versions: the head query, and new versions in few statements.

Invenio-Files-REST's ``ObjectVersion.create`` opens a savepoint of its own
and, through relationship back-references, rewrites the bucket and file
instance rows. This library already runs every change in a savepoint and
adds the size under the bucket's row lock (:func:`~invenio_records_files_ext.db.locks.charge`), so here
rows are inserted with plain statements and the objects are then attached
to the session as already stored: no extra UPDATE, and no flush event that
would make the change look foreign to :mod:`~invenio_records_files_ext.files.sync`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import (
    Bucket,
    FileInstance,
    ObjectVersion,
    ObjectVersionTag,
)
from invenio_files_rest.utils import guess_mimetype
from sqlalchemy import Select, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import (
    Session,
    contains_eager,
    make_transient_to_detached,
    selectinload,
)
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import InvalidCursorError
from . import cursors
from .sql import chunks


@dataclass(frozen=True)
class Head:
    """The current version of a key, as the file rows need it."""

    key: str
    version_id: Any
    file_id: Any
    size: Optional[int]
    checksum: Optional[str]
    mimetype: Optional[str]
    """What ``ObjectVersion.mimetype`` says (guessed from the key if unset)."""
    stored_mimetype: Optional[str]
    """The MIME type stored on the version, if any."""


def _now() -> datetime:
    return datetime.now(tz=timezone.utc)


# Values travel as execution parameters, never inside the statements: a
# statement holding a timestamp (Invenio-DB's type is not cacheable) would
# be compiled again on every call, which costs more than running it.
_FILES = FileInstance.__table__
_OBJECTS = ObjectVersion.__table__
_RETIRE_IDS = update(_OBJECTS).where(
    _OBJECTS.c.version_id.in_(bindparam("b_version_ids", expanding=True))
)
_RETIRE_KEY = update(_OBJECTS).where(
    _OBJECTS.c.bucket_id == bindparam("b_bucket_id"),
    _OBJECTS.c.key == bindparam("b_key"),
    _OBJECTS.c.is_head.is_(True),
)


def effective_mimetype(key: str, stored: Optional[str]) -> Optional[str]:
    """Return what ``ObjectVersion.mimetype`` says for this key."""
    return stored or guess_mimetype(key)


def heads_query(bucket_id: Any, keys: Optional[Iterable[str]] = None) -> Any:
    """Return a query of a bucket's current versions with bytes.

    The file instance is loaded with each object version (one query).
    """
    query = (
        select(ObjectVersion)
        .join(FileInstance, ObjectVersion.file_id == FileInstance.id)
        .options(contains_eager(ObjectVersion.file))
        .where(
            ObjectVersion.bucket_id == bucket_id,
            ObjectVersion.is_head.is_(True),
        )
    )
    if keys is not None:
        query = query.where(ObjectVersion.key.in_(list(keys)))
    return query


def current_files(*columns: Any) -> Select[Any]:
    """Return a query of ``columns`` over every current version with bytes.

    Object versions are joined with their file instances; callers add the
    buckets they want (a join with the record links, a bucket id...).
    """
    return (
        select(*columns)
        .select_from(ObjectVersion)
        .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
        .where(ObjectVersion.is_head.is_(True))
    )


def head_keys(bucket_id: Any, session: Optional[Session] = None) -> set[str]:
    """Return the keys of a bucket's current versions with bytes."""
    session = session if session is not None else db.session()
    return set(
        session.execute(
            select(ObjectVersion.key).where(
                ObjectVersion.bucket_id == bucket_id,
                ObjectVersion.is_head.is_(True),
                ObjectVersion.file_id.isnot(None),
            )
        ).scalars()
    )


def heads(
    bucket_id: Any, keys: Sequence[str], session: Optional[Session] = None
) -> dict[str, Head]:
    """Return the current versions with bytes of ``keys``, by key."""
    session = session if session is not None else db.session()
    found: dict[str, Head] = {}
    for chunk in chunks(keys):
        rows = session.execute(
            select(
                ObjectVersion.key,
                ObjectVersion.version_id,
                ObjectVersion.file_id,
                ObjectVersion._mimetype,
                FileInstance.size,
                FileInstance.checksum,
            )
            .join(FileInstance, ObjectVersion.file_id == FileInstance.id)
            .where(
                ObjectVersion.bucket_id == bucket_id,
                ObjectVersion.key.in_(chunk),
                ObjectVersion.is_head.is_(True),
            )
        )
        for key, version_id, file_id, mimetype, size, checksum in rows:
            found[key] = Head(
                key,
                version_id,
                file_id,
                size,
                checksum,
                effective_mimetype(key, mimetype),
                mimetype,
            )
    return found


def head_version_ids(
    bucket_id: Any, keys: Sequence[str], session: Optional[Session] = None
) -> list[Any]:
    """Return the version ids of the heads of ``keys``, delete markers included."""
    session = session if session is not None else db.session()
    ids: list[Any] = []
    for chunk in chunks(keys):
        ids.extend(
            session.execute(
                select(ObjectVersion.version_id).where(
                    ObjectVersion.bucket_id == bucket_id,
                    ObjectVersion.key.in_(chunk),
                    ObjectVersion.is_head.is_(True),
                )
            ).scalars()
        )
    return ids


def _mark_retired(session: Session, version_ids: Iterable[Any]) -> None:
    # Objects already loaded in the session must not say they are current.
    for version_id in version_ids:
        obj = session.identity_map.get(session.identity_key(ObjectVersion, version_id))
        if obj is not None:
            set_committed_value(obj, "is_head", False)


def retire(version_ids: Sequence[Any], session: Optional[Session] = None) -> None:
    """Make these object versions non-current."""
    session = session if session is not None else db.session()
    for chunk in chunks(version_ids):
        session.execute(
            _RETIRE_IDS,
            {"b_version_ids": list(chunk), "is_head": False, "updated": _now()},
        )
    _mark_retired(session, version_ids)


def retire_key(
    bucket_id: Any,
    key: str,
    known: Iterable[Any] = (),
    session: Optional[Session] = None,
) -> None:
    """Make the current version of ``key`` old, be it a file or a delete marker.

    One statement, with no need to look the head up first.

    :param known: version ids of heads the caller has loaded.
    """
    session = session if session is not None else db.session()
    session.execute(
        _RETIRE_KEY,
        {"b_bucket_id": bucket_id, "b_key": key, "is_head": False, "updated": _now()},
    )
    _mark_retired(session, known)


def _attach_stored(session: Session, obj: Any) -> Any:
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def insert_file_instance(
    fileinstance: FileInstance, session: Optional[Session] = None
) -> FileInstance:
    """Insert a transient, fully written file instance and attach it."""
    session = session if session is not None else db.session()
    now = _now()
    values = dict(
        id=fileinstance.id,
        uri=fileinstance.uri,
        storage_class=fileinstance.storage_class,
        size=fileinstance.size,
        checksum=fileinstance.checksum,
        readable=True if fileinstance.readable is None else fileinstance.readable,
        writable=False if fileinstance.writable is None else fileinstance.writable,
        last_check_at=None,
        last_check=True,
        created=now,
        updated=now,
    )
    session.execute(insert(_FILES), values)
    for name, value in values.items():
        setattr(fileinstance, name, value)
    return _attach_stored(session, fileinstance)


def insert_version(
    bucket: Bucket,
    key: str,
    fileinstance: Optional[FileInstance],
    mimetype: Optional[str] = None,
    session: Optional[Session] = None,
    file_id: Any = None,
) -> ObjectVersion:
    """Insert a new current version of ``key`` (a delete marker if no file).

    The caller has retired the previous head and charges the bucket.

    :param file_id: the file instance's id, when the instance itself is not
        at hand (it is then loaded on first use).
    """
    session = session if session is not None else db.session()
    if fileinstance is not None:
        file_id = fileinstance.id
    now = _now()
    values = dict(
        version_id=uuid.uuid4(),
        key=key,
        bucket_id=bucket.id,
        file_id=file_id,
        _mimetype=mimetype,
        is_head=True,
        created=now,
        updated=now,
    )
    session.execute(insert(_OBJECTS), values)
    obj = ObjectVersion()
    for name, value in values.items():
        setattr(obj, name, value)
    _attach_stored(session, obj)
    set_committed_value(obj, "bucket", bucket)
    if fileinstance is not None or file_id is None:
        set_committed_value(obj, "file", fileinstance)
    return obj


def copy_tags(new_ids: dict[Any, Any], session: Optional[Session] = None) -> None:
    """Copy the tags of object versions: ``{old version id: new version id}``."""
    session = session if session is not None else db.session()
    rows = []
    for chunk in chunks(list(new_ids)):
        for version_id, key, value in session.execute(
            select(
                ObjectVersionTag.version_id,
                ObjectVersionTag.key,
                ObjectVersionTag.value,
            ).where(ObjectVersionTag.version_id.in_(chunk))
        ):
            rows.append(dict(version_id=new_ids[version_id], key=key, value=value))
    for chunk in chunks(rows, 1000):
        session.execute(insert(ObjectVersionTag), chunk)


@dataclass(frozen=True)
class VersionCursor:
    """A place in the listing of all versions: just after this version."""

    key: str
    created: str
    version_id: str

    def encode(self) -> str:
        """Return the cursor as an opaque, URL-safe string."""
        return cursors.encode([self.key, self.created, self.version_id])

    @classmethod
    def decode(cls, value: str) -> VersionCursor:
        """Read a cursor made by :meth:`encode`."""
        key, created, version_id = cursors.decode(value, str, str, str)
        try:
            datetime.fromisoformat(created)
            uuid.UUID(version_id)
        except ValueError as error:
            raise InvalidCursorError() from error
        return cls(key, created, version_id)

    @classmethod
    def of(cls, obj: ObjectVersion) -> VersionCursor:
        """Return the cursor just after ``obj``."""
        return cls(obj.key, obj.created.isoformat(), str(obj.version_id))


@dataclass
class VersionsPage:
    """One page of every version of every key, by key, newest first."""

    items: list[ObjectVersion]
    next: Optional[VersionCursor]


def versions_page(
    bucket_id: Any,
    size: int,
    after: Optional[VersionCursor] = None,
    session: Optional[Session] = None,
) -> VersionsPage:
    """Return one page of a bucket's versions (two queries)."""
    session = session if session is not None else db.session()
    query = (
        select(ObjectVersion)
        .options(selectinload(ObjectVersion.file), selectinload(ObjectVersion.tags))
        .where(ObjectVersion.bucket_id == bucket_id)
        .order_by(
            ObjectVersion.key,
            ObjectVersion.created.desc(),
            ObjectVersion.version_id.desc(),
        )
    )
    if after is not None:
        created = datetime.fromisoformat(after.created)
        version_id = uuid.UUID(after.version_id)
        query = query.where(
            or_(
                ObjectVersion.key > after.key,
                and_(
                    ObjectVersion.key == after.key,
                    or_(
                        ObjectVersion.created < created,
                        and_(
                            ObjectVersion.created == created,
                            ObjectVersion.version_id < version_id,
                        ),
                    ),
                ),
            )
        )
    items = list(session.execute(query.limit(size + 1)).scalars())
    more = len(items) > size
    items = items[:size]
    return VersionsPage(items, VersionCursor.of(items[-1]) if more else None)
