"""``FilesIterator``: the dict-like view behind ``record.files``.

Reading is :class:`~invenio_records_files_ext.files.reading.FilesReader`'s.
The files' order, default preview and per-file metadata are
:class:`~invenio_records_files_ext.files.arranging.FilesArranger`'s, locking
and unlocking :class:`~invenio_records_files_ext.files.locking.FilesLocker`'s
(both bases of ``FilesIterator``, with the writers' seam defined here).
Writes go through :class:`~invenio_records_files_ext.files.writer.FilesWriter`,
each inside a step (:func:`~invenio_records_files_ext.db.steps.step`) that also
sends the hooks, so a change is all or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Optional, Union

from invenio_files_rest.errors import BucketLockedError, InvalidOperationError
from invenio_files_rest.models import Bucket, MultipartObject, ObjectVersion

from .. import signals
from ..db.keys import validate_key
from ..db.references import release
from ..db.steps import send_signal, step
from ..errors import CopyOntoItselfError, FilesNotEnabledError
from ..storage.hashing import rehash_file
from ..storage.writes import UploadTarget, discard, stage_file
from . import bulk, inline, sync
from .arranging import FilesArranger
from .buckets import FILES
from .enabled import is_enabled
from .locking import FilesLocker
from .multipart import remove_upload
from .transfers import Transfers
from .writer import Attached, FilesWriter


class FilesIterator(FilesArranger, FilesLocker):
    """Dict-like view of the files of a record: reads and writes.

    Writes go through :class:`~invenio_records_files_ext.files.writer.FilesWriter`,
    each inside a step (:func:`invenio_records_files_ext.db.steps.step`) that
    also sends the hooks, so a change is all or nothing.
    """

    @property
    def transfers(self) -> Transfers:
        """The record's pending files: announce, upload, commit (three steps)."""
        found = self.__dict__.get("_transfers")
        if found is None:
            found = self.__dict__["_transfers"] = Transfers(self)
        return found

    #
    # Writing: the seam for writers (the transfers, the REST views)
    #
    def writable_bucket(self) -> Bucket:
        """Return the bucket to write, or refuse: files disabled, bucket deleted or locked."""
        if not is_enabled(self.record):
            raise FilesNotEnabledError()
        bucket = self._bound_bucket()
        if bucket.deleted:
            raise InvalidOperationError(description="The bucket has been deleted.")
        if bucket.locked:
            raise BucketLockedError()
        return bucket

    def writer(self) -> FilesWriter:
        """Return the writer of the bucket's files, the rows in step first."""
        self._settle()
        return FilesWriter(self.bucket)

    def changed(self) -> None:
        """Note that the files changed: the record's ``_files`` is read again."""
        inline.forget(self.record)

    def after_attach(self, attached: Attached) -> Any:
        """Do what follows an attach (the hooks); return the ``file_cls`` instance."""
        self.changed()
        fileobj = self.make_file(attached.obj, attached.entry)
        if attached.previous is None:
            send_signal(signals.file_added, record=self.record, file=fileobj)
        else:
            send_signal(
                signals.file_replaced,
                record=self.record,
                file=fileobj,
                previous=attached.previous,
            )
        return fileobj

    # The names these had before they were the writers' seam.
    _writable_bucket = writable_bucket
    _writer = writer
    _changed = changed
    _after_attach = after_attach

    #
    # Writing: single files
    #
    def put(
        self,
        key: str,
        stream: Any,
        size: Optional[int] = None,
        content_md5: Optional[str] = None,
        target: Optional[UploadTarget] = None,
    ) -> Any:
        """Store ``stream`` under ``key`` (a new file or a new version).

        The bytes are written first, with no database work, then the
        version and row are written under the key's lock, so a slow stream
        never blocks other writers. A replaced file keeps its position and
        metadata.

        :param size: the announced size in bytes (checked when given).
        :param content_md5: Content-MD5 of the stream (checked when given).
        :param target: an :class:`~invenio_records_files_ext.storage.writes.UploadTarget`
            read beforehand (the REST routes use it to stream the body with
            no transaction open); by default it is read from the bucket.
        :returns: the new ``file_cls`` instance.
        """
        key = validate_key(key)
        if target is None:
            target = UploadTarget.of(self.writable_bucket())
        fileinstance = stage_file(target, stream, size=size, content_md5=content_md5)
        with step() as current:
            current.undo(lambda: discard(fileinstance.id))
            return self.after_attach(self.writer().attach(key, fileinstance))

    def complete_multipart(self, multipart: MultipartObject) -> Any:
        """Turn a multipart upload whose parts are all in into the file.

        The parts already sit in one file instance: it is checksummed and
        attached under the upload's key like :meth:`put` would, and the
        upload record is removed.

        :returns: the new ``file_cls`` instance.
        """
        self.writable_bucket()
        with step():
            if not multipart.completed:
                multipart.complete()
            fileinstance = multipart.file
            rehash_file(fileinstance)
            fileinstance.readable = True
            fileinstance.writable = False
            key = multipart.key
            # The upload reserved its size when it started: attaching the
            # file counts only the difference.
            reserved = remove_upload(multipart)
            attached = self.writer().attach(
                key, fileinstance, stored_instance=True, reserved=reserved
            )
            return self.after_attach(attached)

    def __setitem__(self, key: str, stream: Any) -> None:
        """Store a stream under ``key`` (see :meth:`put`)."""
        self.put(key, stream)

    def __delitem__(self, key: str) -> None:
        """Delete the file with this key (a delete marker is created)."""
        self.delete(key)

    def delete(self, key: str) -> ObjectVersion:
        """Delete the file with this key; raise :class:`KeyError` if absent.

        :returns: the delete marker
            (:class:`~invenio_files_rest.models.ObjectVersion`).
        """
        self.writable_bucket()
        key = self.stored_key(key)
        with step():
            removed = self.writer().remove(key)
            self.changed()
            send_signal(
                signals.file_deleted,
                record=self.record,
                key=key,
                previous=removed.previous,
            )
        return removed.marker

    def remove_version(self, obj: ObjectVersion) -> None:
        """Remove one version of a file for good (the REST ``?versionId`` delete).

        When it was the current version, the newest remaining one becomes
        current; bytes no longer used by anything are deleted after commit.
        """
        self.writable_bucket()
        with step():
            fileinstance = self.writer().remove_version(obj)
            if fileinstance is not None:
                release(fileinstance)
        self.changed()

    def rename(self, old_key: str, new_key: str) -> ObjectVersion:
        """Rename a file; it keeps its position and metadata.

        :param old_key: old key that holds the object.
        :param new_key: new key that will hold the object.
        :returns: the :class:`~invenio_files_rest.models.ObjectVersion` now
            holding the file under ``new_key``.
        """
        self.writable_bucket()
        old_key = self.stored_key(old_key)
        with step():
            renamed = self.writer().rename(old_key, new_key)
            self.changed()
            send_signal(
                signals.file_renamed,
                record=self.record,
                file=self.make_file(renamed.obj, renamed.entry),
                old_key=old_key,
                new_key=renamed.entry["key"],
            )
        return renamed.obj

    def flush(self) -> None:
        """Bring the files in step with the bucket.

        Order and metadata of known files are kept, files of the bucket
        without a row are appended, rows without a file are dropped. Use it
        to repair records whose bucket was changed before this library
        managed it. It works on locked files too: it only corrects what the
        rows say.
        """
        with step():
            sync.repair(self.bucket_id)
        self.changed()

    #
    # Writing: many files at once, life cycle
    #
    def update(
        self,
        items: Union[Mapping[str, Any], Iterable[tuple[str, Any]]] = (),
        **kwargs: Any,
    ) -> list[str]:
        """Store many streams in one go (new files or new versions).

        ``items`` is a mapping or an iterable of ``(key, stream)`` pairs.
        All keys are checked before any byte is written; the bytes are
        written one after the other and the database rows are inserted in a
        few statements, which makes this much faster than a loop of
        ``files[key] = stream``. It is all or nothing.

        :returns: the list of keys stored, in order.
        """
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        pairs += list(kwargs.items())
        bucket = self.writable_bucket()
        self._settle()
        keys = bulk.put_many(bucket, self.record, pairs, self.make_file)
        self.changed()
        return keys

    def copy(self, source: Any) -> list[str]:
        """Import every current file of another record, sharing the bytes.

        The files keep their per-file metadata and order; no byte is copied
        in storage: the new object versions point to the same file
        instances. Existing files with the same keys get a new version.
        Later changes to either record never touch the other.

        Given a *record* (not its ``files``), the record's media files are
        imported too, into this record's media files (created if needed).

        :param source: another record's files iterator (or the record).
        :returns: the list of imported keys (of the files, not the media
            files).
        """
        # A record gives its files view; a files view has no ``files``.
        src = getattr(source, "files", source)
        if src is None:
            raise InvalidOperationError(description="The source record has no bucket.")
        bucket = self.writable_bucket()
        if src.bucket_id == bucket.id:
            raise CopyOntoItselfError()
        self._settle()
        src.settle()
        keys = bulk.copy_files(bucket, self.record, src.bucket_id, src.record)
        self.changed()
        if src is not source and self.role == FILES:
            source_media = getattr(source, "media_files", None)
            if source_media is not None:
                self.record.enable_media_files().copy(source_media)
        return keys
