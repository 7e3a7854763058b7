"""Changes to many files in a few statements: bulk attach and copy.

A loop of ``files[key] = stream`` costs a handful of statements per file.
:func:`put_many` writes the bytes one after the other but inserts file
instances, object versions and rows a thousand per statement, and
:func:`copy_files` imports another record's files without touching any
byte: the new object versions point to the same file instances. Both take
the bucket's exclusive lock (:func:`~invenio_records_files_ext.db.locks.lock_bucket`) and charge the
bucket once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance, ObjectVersion
from invenio_files_rest.utils import guess_mimetype
from sqlalchemy import insert, select

from .. import signals
from ..db import locks, versions
from ..db.keys import validate_key
from ..db.sql import chunks
from ..db.steps import send_signal, step
from ..errors import DuplicateFileKeyError, FilePendingError
from ..models import COMPLETED, PENDING, FileChecksum
from ..storage.writes import UploadTarget, discard, write_bytes
from . import queries, rows
from .entries import make_fields, without_content_metadata

MakeFile = Callable[[ObjectVersion, dict[str, Any]], Any]
"""Builds the public file object of an object version and its entry."""


BATCH_SIZE = 1000
"""Files whose rows are built and inserted together."""


@dataclass
class _Written:
    """One file whose bytes are stored, waiting for its rows."""

    # One of these is kept per file of the call: slots keep it small.
    __slots__ = ("key", "file_id", "uri", "size", "checksum", "version_id", "others")

    key: str
    file_id: Any
    uri: str
    size: int
    checksum: str
    version_id: Any
    others: dict[str, str]
    """Checksums other than the MD5 (algorithm -> hex), for their rows."""


def _now() -> datetime:
    return datetime.now(tz=timezone.utc)


def _size_limit_after(bucket: Any, extra: int) -> Any:
    """The bucket's size limit once ``extra`` more bytes are counted."""
    # The configured limiters read the bucket's size: count the bytes of
    # this batch for a moment, without changing the bucket.
    bucket.size += extra
    try:
        return bucket.size_limit
    finally:
        bucket.size -= extra


def _check_keys(pairs: Sequence[tuple[str, Any]]) -> list[str]:
    keys = [validate_key(key) for key, _ in pairs]
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise DuplicateFileKeyError(key)
        seen.add(key)
    return keys


def _write_all(
    bucket: Any, target: UploadTarget, pairs: Sequence[tuple[str, Any]], current: Any
) -> list[_Written]:
    written: list[_Written] = []

    def discard_written() -> None:
        for item in written:
            discard(item.file_id)

    # One undo callback for the whole batch, not one per file.
    current.undo(discard_written)
    total = 0
    for key, stream in pairs:
        file_id = uuid.uuid4()
        # A transient file instance only tells the storage factory where
        # the bytes go; the row is inserted with the others.
        probe = FileInstance(id=file_id, size=0)
        stored = write_bytes(
            probe,
            target.location_uri,
            target.storage_class,
            stream,
            size_limit=_size_limit_after(bucket, total),
        )
        total += stored.size
        written.append(
            _Written(
                key,
                file_id,
                stored.uri,
                stored.size,
                stored.checksum,
                uuid.uuid4(),
                {name: hex for name, hex in stored.checksums.items() if name != "md5"},
            )
        )
    return written


def _insert_versions(bucket: Any, batch: Sequence[_Written]) -> None:
    """Insert the file instances and object versions of one batch."""
    session = db.session()
    now = _now()
    session.execute(
        insert(FileInstance),
        [
            dict(
                id=item.file_id,
                uri=item.uri,
                size=item.size,
                checksum=item.checksum,
                storage_class=bucket.default_storage_class,
                readable=True,
                writable=False,
                last_check=True,
                created=now,
                updated=now,
            )
            for item in batch
        ],
    )
    checksum_rows = [
        dict(file_id=item.file_id, algorithm=name, value=value)
        for item in batch
        for name, value in item.others.items()
    ]
    if checksum_rows:
        session.execute(insert(FileChecksum), checksum_rows)
    session.execute(
        insert(ObjectVersion),
        [
            dict(
                version_id=item.version_id,
                key=item.key,
                bucket_id=bucket.id,
                file_id=item.file_id,
                is_head=True,
                created=now,
                updated=now,
            )
            for item in batch
        ],
    )


def _write_rows(
    bucket_id: Any,
    batch: Sequence[_Written],
    stored: dict[str, queries.StoredEntry],
    position: int,
) -> int:
    """Insert or repoint the file rows of one batch; return the next position."""
    new_rows, changes = [], []
    for item in batch:
        mimetype = guess_mimetype(item.key)
        entry = stored.get(item.key)
        if entry is None:
            new_rows.append(
                rows.new_row(
                    bucket_id, item.key, position, item.version_id, item.size, mimetype
                )
            )
            position += 1
        else:
            changes.append(
                dict(
                    id=entry.id,
                    version_id=item.version_id,
                    size=item.size,
                    mimetype=mimetype,
                    json=without_content_metadata(entry.json),
                )
            )
    rows.insert_many(new_rows)
    rows.point_many(changes)
    return position


def _send_file_signals(
    record: Any,
    make_file: MakeFile,
    written: Sequence[_Written],
    previous: dict[str, dict[str, Any]],
    metadata: dict[str, dict[str, Any]],
) -> None:
    """Send added/replaced signals for files inserted in bulk."""
    if not (signals.file_added.receivers or signals.file_replaced.receivers):
        return
    db.session.flush()
    by_version = {}
    for chunk in chunks([item.version_id for item in written]):
        for obj in db.session.execute(
            select(ObjectVersion).where(ObjectVersion.version_id.in_(chunk))
        ).scalars():
            by_version[obj.version_id] = obj
    for item in written:
        obj = by_version[item.version_id]
        entry = dict(metadata.get(item.key, {}))
        entry.update(
            make_fields(
                obj.bucket_id,
                item.key,
                item.version_id,
                item.file_id,
                item.checksum,
                item.size,
                guess_mimetype(item.key),
                item.others,
            )
        )
        fileobj = make_file(obj, entry)
        if item.key in previous:
            send_signal(
                signals.file_replaced,
                record=record,
                file=fileobj,
                previous=previous[item.key],
            )
        else:
            send_signal(signals.file_added, record=record, file=fileobj)


def _previous_entries(
    bucket_id: Any, stored: dict[str, queries.StoredEntry], heads: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    previous = {}
    for key, entry in stored.items():
        head = heads.get(key)
        if head is None or entry.status != COMPLETED:
            continue
        data = dict(entry.json)
        data.update(
            make_fields(
                bucket_id,
                key,
                head.version_id,
                head.file_id,
                head.checksum,
                head.size,
                head.mimetype,
            )
        )
        previous[key] = data
    return previous


def _refuse_pending(stored: dict[str, queries.StoredEntry]) -> None:
    """Refuse to write over pending files: their upload owns the key."""
    for key, entry in stored.items():
        if entry.status == PENDING:
            raise FilePendingError(key)


def put_many(
    bucket: Any, record: Any, pairs: Sequence[tuple[str, Any]], make_file: MakeFile
) -> list[str]:
    """Store ``(key, stream)`` pairs in a writable bucket, all or nothing.

    :param record: the record, for the hooks.
    :param make_file: builds the file objects the hooks receive.
    """
    keys = _check_keys(pairs)
    if not pairs:
        return []
    # Store under the normalised keys.
    pairs = [(key, stream) for key, (_, stream) in zip(keys, pairs)]
    target = UploadTarget.of(bucket)
    session = db.session()
    with step() as current:
        # Bytes first, as put() does: the bucket is locked only for the few
        # statements that follow.
        written = _write_all(bucket, target, pairs, current)
        locks.lock_bucket(bucket.id, session)
        stored = queries.stored_entries(bucket.id, keys, session)
        _refuse_pending(stored)
        heads = versions.heads(bucket.id, keys, session)
        previous = _previous_entries(bucket.id, stored, heads)
        versions.retire(versions.head_version_ids(bucket.id, keys, session), session)
        position = queries.next_position(bucket.id, session)
        # Rows are built a batch at a time: memory holds one batch of them.
        for batch in chunks(written, BATCH_SIZE):
            _insert_versions(bucket, batch)
            position = _write_rows(bucket.id, batch, stored, position)
        sizes = [item.size for item in written]
        locks.charge(bucket, sum(sizes), largest=max(sizes), session=session)
        metadata = {
            key: without_content_metadata(entry.json) for key, entry in stored.items()
        }
        _send_file_signals(record, make_file, written, previous, metadata)
    return keys


def copy_files(
    bucket: Any, record: Any, source_bucket_id: Any, source_record: Any
) -> list[str]:
    """Import the current files of another bucket into a writable bucket.

    :param record: the destination record, for the hooks.
    :param source_record: the source record, for the hooks.
    """
    session = db.session()
    copied: list[str] = []
    with step():
        locks.lock_bucket(bucket.id, session)
        source_preview: Optional[str] = None
        total = 0
        position = queries.next_position(bucket.id, session)
        batch: list[Any] = []

        def flush_batch() -> None:
            nonlocal position, total
            copied_batch = _copy_batch(bucket, batch, position)
            position = copied_batch.next_position
            total += copied_batch.size
            batch.clear()

        for row in queries.iterate_rows(source_bucket_id, session=session):
            if row.preview:
                source_preview = row.key
            copied.append(row.key)
            batch.append(row)
            if len(batch) >= queries.ITER_CHUNK_SIZE:
                flush_batch()
        if batch:
            flush_batch()
        if source_preview is not None and queries.default_preview(bucket.id) is None:
            stored = queries.stored_entries(bucket.id, [source_preview], session)
            rows.set_preview(bucket.id, stored[source_preview].id, session)
        locks.charge(bucket, total, session=session)
        send_signal(
            signals.files_copied, record=record, source=source_record, keys=copied
        )
    return copied


class _CopiedBatch(NamedTuple):
    """What copying one chunk of source rows did."""

    next_position: int
    """The position the next new row takes."""
    size: int
    """Bytes of the copied files (charged to the bucket's quota)."""


def _copy_batch(bucket: Any, batch: Sequence[Any], position: int) -> _CopiedBatch:
    """Copy one chunk of source rows into ``bucket``, new rows from ``position``."""
    session = db.session()
    keys = [row.key for row in batch]
    stored = queries.stored_entries(bucket.id, keys, session)
    _refuse_pending(stored)
    versions.retire(versions.head_version_ids(bucket.id, keys, session), session)
    now = _now()
    new_ids = {row.version_id: uuid.uuid4() for row in batch}
    version_rows = [
        dict(
            version_id=new_ids[row.version_id],
            key=row.key,
            bucket_id=bucket.id,
            file_id=row.file_id,
            _mimetype=row.stored_mimetype,
            is_head=True,
            created=now,
            updated=now,
        )
        for row in batch
    ]
    session.execute(insert(ObjectVersion), version_rows)
    versions.copy_tags(new_ids, session)
    new_rows, changes = [], []
    for row in batch:
        entry = stored.get(row.key)
        if entry is None:
            new_rows.append(
                rows.new_row(
                    bucket.id,
                    row.key,
                    position,
                    new_ids[row.version_id],
                    row.size,
                    row.mimetype,
                    row.json,
                )
            )
            position += 1
        else:
            changes.append(
                dict(
                    id=entry.id,
                    version_id=new_ids[row.version_id],
                    size=row.size,
                    mimetype=row.mimetype,
                    json=dict(row.json or {}),
                )
            )
    rows.insert_many(new_rows, session)
    rows.point_many(changes, session)
    return _CopiedBatch(position, sum(row.size or 0 for row in batch))
