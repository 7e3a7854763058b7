"""The writer: the one way the library changes a bucket's files.

Every change follows the same order, which is what makes concurrent
writers safe (see :mod:`~invenio_records_files_ext.db.locks`): lock the keys, read their rows and
heads, write object versions and rows, and last *charge* the bucket (its
row lock, the locked/deleted check, the quota and the size). Callers run
the writer inside a step (:func:`~invenio_records_files_ext.db.steps.step`), so a failure anywhere
rolls everything back, and send the hooks themselves.

The writer costs a constant number of statements per file, whatever the
number of files in the bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import (
    Bucket,
    FileInstance,
    ObjectVersion,
    ObjectVersionTag,
)
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db import locks, versions
from ..db.keys import validate_key
from ..errors import (
    FileKeyExistsError,
    FileNotInRecordError,
    FilePendingError,
    InvalidFileKeyError,
    InvalidFileOrderError,
    MetadataKeyError,
)
from ..models import COMPLETED, PENDING
from ..storage.checksums import fill_entries, loaded_checksums
from . import queries, rows, sync
from .entries import (
    check_metadata,
    make_fields,
    without_content_metadata,
)

MISSING = object()
"""Value given to :meth:`FilesWriter.set_metadata` to remove a metadata key."""


@dataclass
class Attached:
    """A file stored under a key."""

    obj: ObjectVersion
    entry: dict[str, Any]
    previous: Optional[dict[str, Any]]
    """The entry it replaced (file fields and metadata), if any."""


@dataclass
class Removed:
    """A file deleted from a key."""

    marker: ObjectVersion
    previous: dict[str, Any]


@dataclass
class Renamed:
    """A file moved to another key."""

    obj: ObjectVersion
    entry: dict[str, Any]


class FilesWriter:
    """Changes the files of one bucket."""

    def __init__(self, bucket: Bucket, session: Optional[Session] = None) -> None:
        """Write into ``bucket`` through ``session`` (default: Invenio-DB's)."""
        self.bucket = bucket
        self.session = session if session is not None else db.session()

    @property
    def bucket_id(self) -> Any:
        """Id of the bucket written."""
        return self.bucket.id

    def _previous(
        self, stored: Optional[queries.StoredEntry], head: Optional[versions.Head]
    ) -> Optional[dict[str, Any]]:
        if stored is None or stored.status != COMPLETED or head is None:
            return None
        entry = dict(stored.json)
        entry.update(self._fields(head.key, head))
        return entry

    def _fields(self, key: str, head: versions.Head) -> dict[str, Any]:
        fields = dict(
            make_fields(
                self.bucket_id,
                key,
                head.version_id,
                head.file_id,
                head.checksum,
                head.size,
                head.mimetype,
            )
        )
        fill_entries([fields])
        return fields

    def _retire(self, key: str, head: Optional[versions.Head]) -> None:
        known = [head.version_id] if head is not None else []
        versions.retire_key(self.bucket_id, key, known, self.session)

    def attach(
        self,
        key: str,
        fileinstance: FileInstance,
        stored_instance: bool = False,
        mimetype: Optional[str] = None,
        metadata: Optional[dict[str, Any]] = None,
        reserved: int = 0,
        completing: bool = False,
    ) -> Attached:
        """Make ``fileinstance`` the current version of ``key``.

        A replaced file keeps its position and metadata (``metadata``, when
        given, replaces the metadata).

        :param stored_instance: the file instance is already in the
            database (a multipart upload); otherwise it is inserted.
        :param reserved: bytes the bucket's size already counts for this
            file (a multipart upload reserves its size when it starts).
        :param completing: the key's pending file is being completed
            (:mod:`~invenio_records_files_ext.files.pending`); otherwise a
            pending file under the key refuses the write.
        :raises invenio_records_files_ext.errors.FilePendingError: the key
            names a pending file.
        """
        session = self.session
        locks.lock_keys(self.bucket_id, [key], session)
        stored = queries.stored_entries(self.bucket_id, [key], session).get(key)
        if stored is not None and stored.status == PENDING and not completing:
            raise FilePendingError(key)
        head = versions.heads(self.bucket_id, [key], session).get(key)
        previous = self._previous(stored, head)
        self._retire(key, head)
        if not stored_instance:
            versions.insert_file_instance(fileinstance, session)
        obj = versions.insert_version(self.bucket, key, fileinstance, mimetype, session)
        # A new version has no tags yet: nothing to load when it is answered.
        set_committed_value(obj, "tags", [])
        effective = versions.effective_mimetype(key, mimetype)
        if stored is None:
            data = dict(metadata or {})
            rows.insert_one(
                rows.new_row(
                    self.bucket_id,
                    key,
                    queries.next_position(self.bucket_id, session),
                    obj.version_id,
                    fileinstance.size,
                    effective,
                    data,
                ),
                session,
            )
        else:
            data = without_content_metadata(
                stored.json if metadata is None else metadata
            )
            extra: dict[str, Any] = {"status": COMPLETED}
            if metadata is not None or data != (stored.json or {}):
                extra["json"] = data
            rows.point_to(
                stored.id,
                obj.version_id,
                fileinstance.size,
                effective,
                session,
                **extra,
            )
        size = fileinstance.size or 0
        locks.charge(self.bucket, size - reserved, largest=size, session=session)
        entry = dict(data)
        entry.update(
            make_fields(
                self.bucket_id,
                key,
                obj.version_id,
                fileinstance.id,
                fileinstance.checksum,
                fileinstance.size,
                effective,
                loaded_checksums(fileinstance),
            )
        )
        return Attached(obj, entry, previous)

    def remove(self, key: str) -> Removed:
        """Delete ``key`` (a delete marker is added); :class:`KeyError` if absent."""
        session = self.session
        locks.lock_keys(self.bucket_id, [key], session)
        stored = queries.stored_entries(self.bucket_id, [key], session).get(key)
        head = versions.heads(self.bucket_id, [key], session).get(key)
        if head is None or stored is None or stored.status != COMPLETED:
            raise FileNotInRecordError(key)
        previous = self._previous(stored, head) or {}
        self._retire(key, head)
        marker = versions.insert_version(self.bucket, key, None, None, session)
        rows.delete_rows([stored.id], session)
        locks.charge(self.bucket, -(head.size or 0), session=session)
        return Removed(marker, previous)

    def rename(self, old_key: str, new_key: str) -> Renamed:
        """Move a file to another key; it keeps its position and metadata.

        :raises KeyError: no file ``old_key``.
        :raises invenio_records_files_ext.errors.FileKeyExistsError:
            ``new_key`` is taken.
        """
        new_key = validate_key(new_key)
        if old_key == new_key:
            raise InvalidFileKeyError(new_key, "the new key equals the old key")
        session = self.session
        locks.lock_keys(self.bucket_id, [old_key, new_key], session)
        stored = queries.stored_entries(self.bucket_id, [old_key, new_key], session)
        heads = versions.heads(self.bucket_id, [old_key, new_key], session)
        source = stored.get(old_key)
        head = heads.get(old_key)
        if source is None or source.status != COMPLETED or head is None:
            raise FileNotInRecordError(old_key)
        if new_key in stored or new_key in heads:
            raise FileKeyExistsError(new_key)
        self._retire(new_key, None)
        obj = versions.insert_version(
            self.bucket, new_key, None, head.stored_mimetype, session, head.file_id
        )
        versions.copy_tags({head.version_id: obj.version_id}, session)
        self._retire(old_key, head)
        versions.insert_version(self.bucket, old_key, None, None, session)
        mimetype = versions.effective_mimetype(new_key, head.stored_mimetype)
        rows.point_to(
            source.id, obj.version_id, head.size, mimetype, session, key=new_key
        )
        # The new version counts the bytes again and the delete marker gives
        # them back, as Invenio-Files-REST does: only the checks remain.
        locks.charge(self.bucket, 0, session=session)
        entry = dict(source.json)
        entry.update(
            make_fields(
                self.bucket_id,
                new_key,
                obj.version_id,
                head.file_id,
                head.checksum,
                head.size,
                mimetype,
            )
        )
        fill_entries([entry])
        return Renamed(obj, entry)

    def remove_version(self, obj: ObjectVersion) -> Optional[FileInstance]:
        """Remove one version of a file for good.

        When it was the current version, the newest remaining one becomes
        current. The file row follows.

        :returns: the version's file instance (for the caller to release if
            nothing uses it any more), or ``None`` for a delete marker.
        """
        session = self.session
        key = obj.key
        locks.lock_keys(self.bucket_id, [key], session)
        fileinstance = obj.file
        was_head = obj.is_head
        session.execute(
            delete(ObjectVersionTag).where(
                ObjectVersionTag.version_id == obj.version_id
            )
        )
        session.execute(
            delete(ObjectVersion).where(ObjectVersion.version_id == obj.version_id)
        )
        session.expunge(obj)
        if was_head:
            latest = session.execute(
                select(ObjectVersion.version_id)
                .where(
                    ObjectVersion.bucket_id == self.bucket_id, ObjectVersion.key == key
                )
                .order_by(ObjectVersion.created.desc())
                .limit(1)
            ).scalar()
            if latest is not None:
                session.execute(
                    update(ObjectVersion)
                    .where(ObjectVersion.version_id == latest)
                    .values(is_head=True)
                    .execution_options(synchronize_session=False)
                )
        sync.apply(self.bucket_id, [key], session)
        size = fileinstance.size if fileinstance is not None else 0
        locks.charge(self.bucket, -(size or 0), session=session)
        return fileinstance

    def set_metadata(self, key: str, name: str, value: Any) -> dict[str, Any]:
        """Set (or, with :data:`MISSING`, remove) one metadata value of ``key``.

        :returns: the file's metadata after the change.
        """
        if value is not MISSING:
            check_metadata(name, value)
        session = self.session
        locks.lock_keys(self.bucket_id, [key], session)
        stored = queries.stored_entries(self.bucket_id, [key], session).get(key)
        if stored is None:
            raise FileNotInRecordError(key)
        data = dict(stored.json)
        if value is MISSING:
            if name not in data:
                raise MetadataKeyError(name)
            del data[name]
        else:
            data[name] = value
        rows.set_json(stored.id, data, session)
        locks.charge(self.bucket, 0, session=session)
        return data

    def reorder(self, keys: list[str]) -> None:
        """Put ``keys`` first, in this order; the others keep their order."""
        if len(set(keys)) != len(keys):
            raise InvalidFileOrderError("A file is named more than once.")
        if not keys:
            return
        session = self.session
        locks.lock_keys(self.bucket_id, keys, session)
        stored = queries.stored_entries(self.bucket_id, keys, session)
        for key in keys:
            if key not in stored or stored[key].status != COMPLETED:
                raise FileNotInRecordError(key)
        start = queries.first_position(self.bucket_id, session) - len(keys)
        rows.set_positions(
            {stored[key].id: start + index for index, key in enumerate(keys)},
            session,
        )
        locks.charge(self.bucket, 0, session=session)

    def set_default_preview(self, key: Optional[str]) -> None:
        """Make ``key`` the default preview (``None``: no default preview)."""
        session = self.session
        locks.lock_bucket(self.bucket_id, session)
        entry_id = None
        if key is not None:
            stored = queries.stored_entries(self.bucket_id, [key], session).get(key)
            if stored is None or stored.status != COMPLETED:
                raise FileNotInRecordError(key)
            entry_id = stored.id
        rows.set_preview(self.bucket_id, entry_id, session)
        locks.charge(self.bucket, 0, session=session)

    def set_locked(self, locked: bool) -> bool:
        """Lock or unlock the bucket, once its other writers are done.

        :returns: whether the bucket's state changed.
        """
        locks.lock_bucket(self.bucket_id, self.session)
        locks.refresh_bucket(self.bucket, self.session)
        if bool(self.bucket.locked) == locked:
            return False
        self.bucket.locked = locked
        return True
