"""Changes to many files in a few statements: bulk attach and copy.

A loop of ``files[key] = stream`` costs a handful of statements per file.
:func:`put_many` writes the bytes one after the other but inserts all file
instances and object versions with one statement each, and
:func:`copy_files` imports another record's files without touching any
byte: the new object versions point to the same file instances.
"""

import uuid

from invenio_db import db
from invenio_files_rest.errors import FileSizeError
from invenio_files_rest.models import (
    FileInstance,
    ObjectVersion,
    ObjectVersionTag,
)
from invenio_files_rest.utils import guess_mimetype
from sqlalchemy import insert, select

from . import signals
from .entries import file_fields, user_metadata
from .errors import InvalidOperationError
from .keys import validate_key
from .sql import chunks
from .steps import send_signal, step
from .storage import discard, write_bytes
from .versions import head_version_ids, retire_heads


def _store_entry(files, key, fields, metadata=None):
    """Create or update the entry of ``key``; return ``True`` if it is new."""
    entry = files.entries.get(key)
    if entry is None:
        files.entries.append({**(metadata or {}), **fields})
        return True
    if metadata is not None:
        for name in list(user_metadata(entry)):
            del entry[name]
        entry.update(metadata)
    entry.update(fields)
    return False


def _send_file_signals(files, version_ids, created):
    """Send added/replaced signals for objects inserted in bulk."""
    if not (signals.file_added.receivers or signals.file_replaced.receivers):
        return
    db.session.flush()
    objects = {}
    for chunk in chunks(version_ids):
        for obj in db.session.execute(
            select(ObjectVersion).where(ObjectVersion.version_id.in_(chunk))
        ).scalars():
            objects[obj.version_id] = obj
    for version_id in version_ids:
        obj = objects[version_id]
        fileobj = files._make_file(obj, files.entries.get(obj.key))
        if created[obj.key]:
            send_signal(signals.file_added, record=files.record, file=fileobj)
        else:
            send_signal(
                signals.file_replaced, record=files.record, file=fileobj, previous=None
            )


def _size_limit_after(bucket, extra):
    """The bucket's size limit once ``extra`` more bytes are counted."""
    # The configured limiters read the bucket's size: count the bytes of
    # this batch for a moment, without changing the bucket.
    bucket.size += extra
    try:
        return bucket.size_limit
    finally:
        bucket.size -= extra


def put_many(files, pairs):
    """Store ``(key, stream)`` pairs in the record's bucket, all or nothing."""
    keys = [validate_key(key) for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("A key is given more than once.")
    bucket = files._writable_bucket()
    if not pairs:
        return []
    location_uri = bucket.location.uri
    storage_class = bucket.default_storage_class
    with step() as current:
        # Bytes first, as put() does: the record's row is locked only for
        # the few statements that follow.
        file_rows, object_rows, written = [], [], 0
        for key, stream in pairs:
            file_id = uuid.uuid4()
            # A transient file instance only tells the storage factory where
            # the bytes go; the row is inserted below with the others.
            probe = FileInstance(id=file_id, size=0)
            current.undo(lambda file_id=file_id: discard(file_id))
            _, uri, size, checksum = write_bytes(
                probe,
                location_uri,
                storage_class,
                stream,
                size_limit=_size_limit_after(bucket, written),
            )
            written += size
            file_rows.append(
                dict(
                    id=file_id,
                    uri=uri,
                    size=size,
                    checksum=checksum,
                    storage_class=storage_class,
                    readable=True,
                    writable=False,
                    last_check=True,
                )
            )
            object_rows.append(
                dict(
                    version_id=uuid.uuid4(),
                    key=key,
                    bucket_id=bucket.id,
                    file_id=file_id,
                    is_head=True,
                )
            )
        files._lock_row()
        files._undo_entries(current, keys)
        limit = bucket.size_limit
        if limit is not None and written > limit:
            raise FileSizeError(
                description=getattr(limit, "reason", "Bucket quota exceeded.")
            )
        retire_heads(head_version_ids(bucket.id, keys))
        db.session.execute(insert(FileInstance), file_rows)
        db.session.execute(insert(ObjectVersion), object_rows)
        bucket.size += written

        created = {}
        for file_row, object_row in zip(file_rows, object_rows):
            fields = {
                "bucket": str(bucket.id),
                "checksum": file_row["checksum"],
                "file_id": str(file_row["id"]),
                "key": object_row["key"],
                "mimetype": guess_mimetype(object_row["key"]),
                "size": file_row["size"],
                "version_id": str(object_row["version_id"]),
            }
            created[object_row["key"]] = _store_entry(files, object_row["key"], fields)
        files._changed()
        _send_file_signals(files, [row["version_id"] for row in object_rows], created)
    return keys


def copy_files(files, source):
    """Import the current files of ``source`` into ``files``' bucket."""
    from .api import FilesMixin

    src = source.files if isinstance(source, FilesMixin) else source
    if src is None:
        raise InvalidOperationError(description="The source record has no bucket.")
    bucket = files._writable_bucket()
    if src.bucket.id == bucket.id:
        raise ValueError("A record's files cannot be copied onto themselves.")
    heads = src._ordered_heads()
    keys = [obj.key for obj in heads]
    with step() as current:
        files._lock_row()
        files._undo_entries(current, keys)
        retire_heads(head_version_ids(bucket.id, keys))
        new_ids = {obj.version_id: uuid.uuid4() for obj in heads}
        if heads:
            db.session.execute(
                insert(ObjectVersion),
                [
                    dict(
                        version_id=new_ids[obj.version_id],
                        key=obj.key,
                        bucket_id=bucket.id,
                        file_id=obj.file_id,
                        _mimetype=obj._mimetype,
                        is_head=True,
                    )
                    for obj in heads
                ],
            )
            tag_rows = []
            for chunk in chunks(list(new_ids)):
                for tag in db.session.execute(
                    select(ObjectVersionTag).where(
                        ObjectVersionTag.version_id.in_(chunk)
                    )
                ).scalars():
                    tag_rows.append(
                        dict(
                            version_id=new_ids[tag.version_id],
                            key=tag.key,
                            value=tag.value,
                        )
                    )
            if tag_rows:
                db.session.execute(insert(ObjectVersionTag), tag_rows)
            bucket.size += sum(obj.file.size for obj in heads)
        for obj in heads:
            fields = file_fields(obj)
            fields["bucket"] = str(bucket.id)
            fields["version_id"] = str(new_ids[obj.version_id])
            metadata = user_metadata(src.entries.get(obj.key) or {})
            _store_entry(files, obj.key, fields, metadata)
        if (
            files.entries.default_preview is None
            and src.entries.default_preview in keys
        ):
            files.entries.default_preview = src.entries.default_preview
        files._changed()
        send_signal(
            signals.files_copied, record=files.record, source=src.record, keys=keys
        )
    return keys
