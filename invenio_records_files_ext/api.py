"""Records with files: ``Record``, ``FilesMixin``, ``FilesIterator``, ``FileObject``.

``record.files`` is a dict-like view of the files in the record's bucket.
What exists is read from the bucket; the order and the per-file metadata
are kept in the record's JSON (``_files``). Every change goes through one
*step*: a savepoint, the database change, the update of ``_files`` in
memory, the hook, and an undo log that puts ``_files`` back if anything in
the step fails. ``_files`` is written to the database once per transaction,
just before commit (see :mod:`.transaction`), so a change to one file costs
the same few queries however many files the record holds.
"""

import copy

from flask import current_app
from invenio_db import db
from invenio_files_rest.errors import BucketLockedError, InvalidOperationError
from invenio_files_rest.models import Bucket, FileInstance, ObjectVersion
from invenio_records.api import Record as _Record
from invenio_records.errors import MissingModelError
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import flag_modified

from . import signals, transaction
from .dumpers import FilesSummaryExtension
from .entries import (
    DEFAULT_PREVIEW_KEY,
    FILES_KEY,
    FileEntries,
    check_metadata,
    file_fields,
)
from .errors import FileKeyExistsError, InvalidFileKeyError
from .keys import validate_key
from .locks import lock_record_row
from .models import RecordsBuckets
from .steps import send_signal, step
from .storage import UploadTarget, discard, stage_file
from .versions import make_head

_MISSING = object()


class FileObject:
    """A file of a record: its object version plus its ``_files`` entry.

    Attribute access is proxied to the
    :class:`~invenio_files_rest.models.ObjectVersion` (``obj``); item access
    reads and writes the per-file metadata (``data``). Every attribute of
    the object version is a reserved key: reading it gives the object
    version's value, writing it raises :class:`KeyError`.
    """

    def __init__(self, obj, data):
        """Bind an object version to its entry of the record's ``_files``."""
        self.obj = obj
        self.data = data
        self._files = None

    def __getattr__(self, name):
        """Proxy to the object version."""
        if name in ("obj", "data", "_files"):
            raise AttributeError(name)
        return getattr(self.obj, name)

    def __getitem__(self, key):
        """Return a metadata value (or the object version's attribute)."""
        if hasattr(self.obj, key):
            return getattr(self.obj, key)
        return self.data[key]

    def __setitem__(self, key, value):
        """Set a metadata value; object version attributes are reserved.

        :raises KeyError: for a reserved key.
        :raises invenio_records_files_ext.errors.InvalidMetadataError: for a
            value the record's JSON cannot hold.
        """
        check_metadata(key, value)
        if hasattr(self.obj, key):
            raise KeyError(key)
        if self._files is None:
            self.data[key] = value
        else:
            self._files._set_metadata(self, key, value)

    def __delitem__(self, key):
        """Remove a metadata value; object version attributes are reserved."""
        if hasattr(self.obj, key):
            raise KeyError(key)
        if key not in self.data:
            raise KeyError(key)
        if self._files is None:
            del self.data[key]
        else:
            self._files._set_metadata(self, key, _MISSING)

    def __contains__(self, key):
        """Tell whether a metadata key is set."""
        return key in self.data

    def get(self, key, default=None):
        """Return a metadata value, or ``default``.

        :param key: metadata key which holds the value.
        :returns: metadata value of the specified key or default.
        """
        try:
            return self[key]
        except KeyError:
            return default

    def get_version(self, version_id=None):
        """Return one version of this file (the head by default).

        :param version_id: version id of the object.
        :returns: :class:`~invenio_files_rest.models.ObjectVersion` or
            ``None``.
        """
        return ObjectVersion.get(
            bucket=self.obj.bucket_id, key=self.obj.key, version_id=version_id
        )

    def get_versions(self):
        """Return every version of this file, newest first."""
        return ObjectVersion.get_versions(self.obj.bucket_id, self.obj.key).all()

    def dumps(self):
        """Update the entry from the object version and return it.

        The dump holds ``bucket``, ``checksum``, ``file_id``, ``key``,
        ``mimetype``, ``size`` and ``version_id`` plus the user's metadata.
        """
        self.data.update(file_fields(self.obj))
        return self.data


class FilesIterator:
    """Dict-like view of the files of a record.

    Keys are file keys, values are :attr:`file_cls` instances. Iteration
    follows the record's order. What exists is read from the bucket; order
    and metadata come from the record's ``_files``.
    """

    def __init__(self, record, bucket=None, file_cls=None):
        """Bind to a record and its bucket."""
        self.record = record
        self.model = record.model
        self.bucket = bucket
        self.file_cls = file_cls or FileObject
        self.refresh_on_conflict = False
        """Reload a record changed by a concurrent transaction instead of
        raising :class:`~invenio_records_files_ext.errors.RecordConflictError`
        (the REST routes turn this on: they hold no other edits)."""
        self._it = None
        self._load_entries()

    def _load_entries(self):
        # The stored JSON is the truth: the record dict may carry values a
        # client sent in an update that is not committed yet.
        stored = self.model.json if self.model is not None else None
        source = stored if stored is not None else self.record
        self._entries = FileEntries.from_data(source)
        self._generation = transaction.generation()
        if FILES_KEY in source:
            self._entries.write_into(self.record)

    @property
    def entries(self):
        """The record's ``_files`` as :class:`~.entries.FileEntries`.

        Read again from the database after a commit or rollback, so that a
        files view kept across transactions never writes stale entries.
        """
        if self._generation != transaction.generation():
            self._load_entries()
        return self._entries

    @entries.setter
    def entries(self, value):
        self._entries = value
        self._generation = transaction.generation()

    #
    # Reading
    #
    def _heads_query(self, bucket=None, keys=None):
        bucket_id = (bucket or self.bucket).id
        query = (
            db.session.query(ObjectVersion)
            .join(FileInstance, ObjectVersion.file_id == FileInstance.id)
            .options(contains_eager(ObjectVersion.file))
            .filter(
                ObjectVersion.bucket_id == bucket_id,
                ObjectVersion.is_head.is_(True),
            )
        )
        if keys is not None:
            query = query.filter(ObjectVersion.key.in_(list(keys)))
        return query

    def _head(self, key):
        return self._heads_query(keys=[key]).one_or_none()

    def _ordered_heads(self, bucket=None):
        heads = {obj.key: obj for obj in self._heads_query(bucket)}
        ordered = [heads.pop(key) for key in self.entries.keys() if key in heads]
        return ordered + [heads[key] for key in sorted(heads)]

    def _make_file(self, obj, entry):
        fileobj = self.file_cls(obj, entry)
        fileobj._files = self
        return fileobj

    def _entry_for(self, obj):
        entry = self.entries.get(obj.key)
        return entry if entry is not None else file_fields(obj)

    @property
    def keys(self):
        """Return the file keys in the record's order."""
        return self.entries.keys()

    def __len__(self):
        """Return the number of files in the bucket."""
        return (
            db.session.query(func.count(ObjectVersion.version_id))
            .filter(
                ObjectVersion.bucket_id == self.bucket.id,
                ObjectVersion.is_head.is_(True),
                ObjectVersion.file_id.isnot(None),
            )
            .scalar()
        )

    def __contains__(self, key):
        """Tell whether the record has a file with this key."""
        return key in self.entries

    def __iter__(self):
        """Iterate over the files in the record's order."""
        self._it = iter(
            [
                self._make_file(obj, self._entry_for(obj))
                for obj in self._ordered_heads()
            ]
        )
        return self

    def __next__(self):
        """Return the next file."""
        if self._it is None:
            iter(self)
        return next(self._it)

    next = __next__

    def __getitem__(self, key):
        """Return the file with this key, or raise :class:`KeyError`."""
        obj = self._head(key)
        if obj is None:
            raise KeyError(key)
        return self._make_file(obj, self._entry_for(obj))

    def get(self, key, default=None):
        """Return the file with this key, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def dumps(self, bucket=None):
        """Serialize the files of a bucket in the record's order.

        :param bucket: a :class:`~invenio_files_rest.models.Bucket`
            (default: the record's bucket).
        :returns: list of entries: file fields plus per-file metadata.
        """
        result = []
        for obj in self._ordered_heads(bucket):
            entry = dict(self.entries.get(obj.key) or {})
            entry.update(file_fields(obj))
            result.append(entry)
        return result

    def summary(self):
        """Return count, total bytes, mimetypes and default preview.

        Computed from the record's ``_files`` only: no query.
        """
        return self.entries.summary()

    @property
    def locked(self):
        """Tell whether the record's files are locked."""
        return bool(self.bucket.locked)

    #
    # Writing: helpers
    #
    def _writable_bucket(self):
        bucket = self.bucket
        if bucket.deleted:
            raise InvalidOperationError(description="The bucket has been deleted.")
        if bucket.locked:
            raise BucketLockedError()
        return bucket

    def _lock_row(self, writable=True):
        reloaded = lock_record_row(self.model, refresh=self.refresh_on_conflict)
        if reloaded is None:
            return
        if reloaded:
            self._load_entries()
        # Another transaction may have locked the bucket or used its quota
        # while this one was streaming bytes: look again under the lock.
        db.session.refresh(self.bucket)
        if writable:
            self._writable_bucket()

    def _changed(self):
        self.entries.write_into(self.record)
        transaction.mark_dirty(self)

    def write_json(self):
        """Write ``_files`` (and the default preview) to the record's row."""
        model = self.model
        if model is None or model.json is None:
            return
        model.json = self.entries.merged_into(model.json)
        flag_modified(model, "json")

    def _undo_entries(self, current, keys=()):
        """Register how to put ``_files`` back if the step fails.

        Saves the order, the default preview and a copy of the entries of
        ``keys`` (those the step may change in place): the cost does not
        grow with the number of files.
        """
        entries = self.entries
        saved_list = list(entries.list)
        saved_preview = entries.default_preview
        saved_entries = [
            (entries.get(key), dict(entries.get(key)))
            for key in keys
            if entries.get(key) is not None
        ]

        def restore():
            for entry, content in saved_entries:
                entry.clear()
                entry.update(content)
            self.entries = entries
            entries.set_order(saved_list)
            entries.default_preview = saved_preview
            entries.write_into(self.record)

        current.undo(restore)

    #
    # Writing: single files
    #
    def put(self, key, stream, size=None, content_md5=None, target=None):
        """Store ``stream`` under ``key`` (a new file or a new version).

        The bytes are written first, with no database work, then the
        record's row is locked and the object version created, so a slow
        stream never blocks other writers of the record. A replaced file
        keeps its position and metadata.

        :param size: the announced size in bytes (checked when given).
        :param content_md5: Content-MD5 of the stream (checked when given).
        :param target: an :class:`~invenio_records_files_ext.storage.UploadTarget`
            read beforehand (the REST routes use it to stream the body with
            no transaction open); by default it is read from the bucket.
        :returns: the new :attr:`file_cls` instance.
        """
        key = validate_key(key)
        if target is None:
            target = UploadTarget.of(self._writable_bucket())
        fileinstance = stage_file(target, stream, size=size, content_md5=content_md5)
        with step() as current:
            current.undo(lambda: discard(fileinstance.id))
            db.session.add(fileinstance)
            return self._attach(current, key, fileinstance)

    def _attach(self, current, key, fileinstance):
        self._lock_row()
        bucket = self.bucket
        limit = bucket.size_limit
        if limit is not None and fileinstance.size > limit:
            from invenio_files_rest.errors import FileSizeError

            raise FileSizeError(
                description=getattr(limit, "reason", "File size limit exceeded.")
            )
        self._undo_entries(current, [key])
        obj = make_head(bucket, key, fileinstance)
        entry = self.entries.get(key)
        previous = copy.deepcopy(entry) if entry is not None else None
        if entry is None:
            entry = file_fields(obj)
            self.entries.append(entry)
        else:
            entry.update(file_fields(obj))
        self._changed()
        fileobj = self._make_file(obj, entry)
        if previous is None:
            send_signal(signals.file_added, record=self.record, file=fileobj)
        else:
            send_signal(
                signals.file_replaced,
                record=self.record,
                file=fileobj,
                previous=previous,
            )
        return fileobj

    def complete_multipart(self, multipart):
        """Turn a multipart upload whose parts are all in into the file.

        The parts already sit in one file instance: it is checksummed and
        attached under the upload's key like :meth:`put` would, and the
        upload record is removed.

        :returns: the new :attr:`file_cls` instance.
        """
        self._writable_bucket()
        with step() as current:
            if not multipart.completed:
                multipart.complete()
            fileinstance = multipart.file
            fileinstance.update_checksum()
            key = multipart.key
            # Deleting the upload gives back the size it reserved; attaching
            # the file counts it again.
            multipart.delete()
            return self._attach(current, key, fileinstance)

    def __setitem__(self, key, stream):
        """Store a stream under ``key`` (see :meth:`put`)."""
        self.put(key, stream)

    def __delitem__(self, key):
        """Delete the file with this key (a delete marker is created)."""
        self.delete(key)

    def delete(self, key):
        """Delete the file with this key; raise :class:`KeyError` if absent.

        :returns: the delete marker
            (:class:`~invenio_files_rest.models.ObjectVersion`).
        """
        bucket = self._writable_bucket()
        with step() as current:
            self._lock_row()
            self._undo_entries(current, [key])
            marker = ObjectVersion.delete(bucket, key)
            if marker is None:
                raise KeyError(key)
            previous = None
            if key in self.entries:
                _, previous, _ = self.entries.remove(key)
            self._changed()
            send_signal(
                signals.file_deleted,
                record=self.record,
                key=key,
                previous=copy.deepcopy(previous),
            )
        return marker

    def rename(self, old_key, new_key):
        """Rename a file; it keeps its position and metadata.

        :param old_key: old key that holds the object.
        :param new_key: new key that will hold the object.
        :returns: the :class:`~invenio_files_rest.models.ObjectVersion` now
            holding the file under ``new_key``.
        """
        new_key = validate_key(new_key)
        if old_key == new_key:
            raise InvalidFileKeyError(new_key, "the new key equals the old key")
        bucket = self._writable_bucket()
        with step() as current:
            self._lock_row()
            heads = {obj.key: obj for obj in self._heads_query(keys=[old_key, new_key])}
            if old_key not in heads:
                raise KeyError(old_key)
            if new_key in heads or new_key in self.entries:
                raise FileKeyExistsError(new_key)
            self._undo_entries(current, [old_key])
            # Files-REST's copy() looks the file up by id while the new
            # object is not yet in the session: no autoflush then.
            with db.session.no_autoflush:
                new_obj = heads[old_key].copy(key=new_key)
            ObjectVersion.delete(bucket, old_key)
            if old_key in self.entries:
                entry = self.entries.rename(old_key, new_key)
                entry.update(file_fields(new_obj))
            else:
                entry = file_fields(new_obj)
                self.entries.append(entry)
            self._changed()
            send_signal(
                signals.file_renamed,
                record=self.record,
                file=self._make_file(new_obj, entry),
                old_key=old_key,
                new_key=new_key,
            )
        return new_obj

    def sort_by(self, *ids):
        """Change the files' order.

        :param ids: keys or file ids. The files named come first, in this
            order; the others follow in their current order.
        """
        by_file_id = {entry.get("file_id"): entry["key"] for entry in self.entries}
        keys = []
        for id_ in ids:
            key = id_ if id_ in self.entries else by_file_id.get(str(id_))
            if key is None:
                raise KeyError(id_)
            keys.append(key)
        if len(set(keys)) != len(keys):
            raise ValueError("A file is named more than once.")
        self._writable_bucket()
        with step() as current:
            self._lock_row()
            self._undo_entries(current)
            self.entries.reorder(keys)
            self._changed()

    def _set_metadata(self, fileobj, key, value):
        self._writable_bucket()
        with step() as current:
            self._lock_row()
            self._undo_entries(current, [fileobj.obj.key])
            entry = self.entries.get(fileobj.obj.key)
            if entry is None:
                # A file the record's JSON did not list yet: adopt it.
                entry = fileobj.data
                entry.update(file_fields(fileobj.obj))
                self.entries.append(entry)
            if value is _MISSING:
                entry.pop(key, None)
            else:
                entry[key] = value
            fileobj.data = entry
            self._changed()

    @property
    def default_preview(self):
        """The key of the file to preview by default, or ``None``.

        Setting it to a key that is not a file of the record raises
        :class:`KeyError`; it follows renames and is cleared when the file
        is deleted.
        """
        return self.entries.default_preview

    @default_preview.setter
    def default_preview(self, key):
        if key is not None and key not in self.entries:
            raise KeyError(key)
        self._writable_bucket()
        with step() as current:
            self._lock_row()
            self._undo_entries(current)
            self.entries.default_preview = key
            self._changed()

    def flush(self):
        """Rebuild ``_files`` from the bucket and write it to the record.

        Order and metadata of known files are kept, files missing from
        ``_files`` are appended, entries without a file are dropped. Use it
        to repair records whose ``_files`` drifted before this library
        managed them.
        """
        # Serialised with the other writers of the record; allowed on
        # locked files, since it only corrects what ``_files`` says.
        self._lock_row(writable=False)
        dumped = self.dumps()
        preview = self.entries.default_preview
        keys = {entry["key"] for entry in dumped}
        self.entries = FileEntries(dumped, preview if preview in keys else None)
        self._changed()
        self.write_json()

    #
    # Writing: many files at once, life cycle
    #
    def update(self, items=(), **kwargs):
        """Store many streams in one go (new files or new versions).

        ``items`` is a mapping or an iterable of ``(key, stream)`` pairs.
        All keys are checked before any byte is written; the bytes are
        written one after the other and the database rows are inserted in a
        few statements, which makes this much faster than a loop of
        ``files[key] = stream``. It is all or nothing.

        :returns: the list of keys stored, in order.
        """
        from .bulk import put_many

        pairs = list(items.items() if hasattr(items, "items") else items)
        pairs += list(kwargs.items())
        return put_many(self, pairs)

    def copy(self, source):
        """Import every current file of another record, sharing the bytes.

        The files keep their per-file metadata and order; no byte is copied
        in storage: the new object versions point to the same file
        instances. Existing files with the same keys get a new version.
        Later changes to either record never touch the other.

        :param source: another record's files iterator (or the record).
        :returns: the list of imported keys.
        """
        from .bulk import copy_files

        return copy_files(self, source)

    def lock(self):
        """Lock the files: every later write fails until :meth:`unlock`."""
        bucket = self.bucket
        if bucket.locked:
            return
        with step():
            self._lock_row(writable=False)
            if bucket.locked:
                return
            bucket.locked = True
            send_signal(signals.files_locked, record=self.record)

    def unlock(self):
        """Unlock the files of a record that is not deleted."""
        bucket = self.bucket
        if self.model is not None and self.model.is_deleted:
            raise InvalidOperationError(
                description="The record is deleted; restore it first."
            )
        if not bucket.locked:
            return
        with step():
            self._lock_row(writable=False)
            bucket.locked = False
            send_signal(signals.files_unlocked, record=self.record)


class FilesMixin:
    """Give a record class a ``files`` property backed by a linked bucket.

    The bucket is the one linked to the record in
    :class:`~invenio_records_files_ext.models.RecordsBuckets`. Implement
    ``_create_bucket()`` in a subclass to create and link a bucket on first
    access when the record has none.
    """

    file_cls = FileObject
    """File class used to generate the instance of files."""

    files_iter_cls = FilesIterator
    """Files iterator class used to generate the files iterator."""

    def _create_bucket(self):
        """Return a new bucket for a record that has none (default: none)."""
        return None

    def _linked_bucket(self):
        buckets = (
            db.session.execute(
                select(Bucket)
                .join(RecordsBuckets, RecordsBuckets.bucket_id == Bucket.id)
                .where(RecordsBuckets.record_id == self.id)
            )
            .scalars()
            .all()
        )
        if not buckets:
            return None
        wanted = getattr(self, "bucket_id", None)
        for bucket in buckets:
            if wanted and str(bucket.id) == str(wanted):
                return bucket
        return buckets[0]

    @property
    def bucket(self):
        """Return the bucket linked to the record, or ``None``."""
        cached = self.__dict__.get("_files_bucket", _MISSING)
        if cached is not _MISSING:
            return cached
        if self.model is None or self.id is None:
            return None
        bucket = self._linked_bucket()
        self.__dict__["_files_bucket"] = bucket
        return bucket

    def _forget_files(self):
        self.__dict__.pop("_files_bucket", None)
        self.__dict__.pop("_files_iter", None)

    @property
    def files(self):
        """Return the files iterator, or ``None`` if the record has no bucket.

        :raises invenio_records.errors.MissingModelError: if the record has
            not been stored yet.
        """
        if self.model is None:
            raise MissingModelError()
        bucket = self.bucket
        if bucket is None:
            bucket = self._create_bucket()
            if bucket is None:
                return None
            RecordsBuckets.create(record=self.model, bucket=bucket)
            if hasattr(self, "dump_bucket"):
                self.dump_bucket(self, bucket)
            self.__dict__["_files_bucket"] = bucket
        files = self.__dict__.get("_files_iter")
        if files is None or files.bucket is not bucket:
            files = self.files_iter_cls(self, bucket=bucket, file_cls=self.file_cls)
            self.__dict__["_files_iter"] = files
        return files

    @files.setter
    def files(self, data):
        """Store a mapping of keys to streams; existing keys are refused."""
        current = self.files
        if current is None:
            raise InvalidOperationError(description="The record has no bucket.")
        for key in data:
            if key in current:
                raise FileKeyExistsError(key)
        current.update(data)


class Record(_Record, FilesMixin):
    """Record class with associated bucket.

    A bucket is created and linked to the record by :meth:`create` (unless
    ``with_bucket`` is false). The bucket id is stored in the record's
    metadata (by default in ``_bucket``); override :meth:`dump_bucket` and
    :meth:`load_bucket` together to store it elsewhere, and
    :meth:`create_bucket` to create buckets differently.

    ``_bucket``, ``_files`` and ``_default_preview`` belong to this library:
    values for them in a record update are ignored, the stored ones kept.
    """

    _extensions = [FilesSummaryExtension()]

    @classmethod
    def create(cls, data, id_=None, with_bucket=True, **kwargs):
        """Create a record and the associated bucket.

        :param with_bucket: create a bucket automatically on record creation.
        """
        for key in (FILES_KEY, DEFAULT_PREVIEW_KEY):
            data.pop(key, None)
        bucket = cls.create_bucket(data) if with_bucket else None
        if bucket is not None:
            cls.dump_bucket(data, bucket)
        record = super().create(data, id_=id_, **kwargs)
        if bucket is not None:
            RecordsBuckets.create(record=record.model, bucket=bucket)
            record.__dict__["_files_bucket"] = bucket
        return record

    @classmethod
    def create_bucket(cls, data):
        """Create a bucket for this record.

        Uses ``RECORDS_FILES_BUCKET_LOCATION``,
        ``RECORDS_FILES_BUCKET_STORAGE_CLASS``,
        ``RECORDS_FILES_BUCKET_QUOTA_SIZE`` and
        ``RECORDS_FILES_BUCKET_MAX_FILE_SIZE``, read now so that a changed
        configuration applies to new records. Override to create buckets
        differently; return ``None`` to create none.
        """
        config = current_app.config
        options = {}
        for option, key in (
            ("quota_size", "RECORDS_FILES_BUCKET_QUOTA_SIZE"),
            ("max_file_size", "RECORDS_FILES_BUCKET_MAX_FILE_SIZE"),
        ):
            if config.get(key) is not None:
                options[option] = config[key]
        return Bucket.create(
            location=config.get("RECORDS_FILES_BUCKET_LOCATION") or None,
            storage_class=config.get("RECORDS_FILES_BUCKET_STORAGE_CLASS") or None,
            **options,
        )

    @classmethod
    def dump_bucket(cls, data, bucket):
        """Store the bucket id in the record metadata (``_bucket``).

        If you override this method, override :meth:`load_bucket` too.
        """
        data["_bucket"] = str(bucket.id)

    @classmethod
    def load_bucket(cls, record):
        """Read the bucket id from the record metadata (``_bucket``).

        If you override this method, override :meth:`dump_bucket` too.
        """
        return record.get("_bucket")

    @property
    def bucket_id(self):
        """Return the bucket id stored in the record metadata."""
        return self.load_bucket(self)

    def _restore_owned_keys(self):
        stored = self.model.json if self.model is not None else None
        files = self.__dict__.get("_files_iter")
        if files is not None and (
            FILES_KEY in (stored or {}) or len(files.entries) or FILES_KEY in self
        ):
            files.entries.write_into(self)
        else:
            for key in (FILES_KEY, DEFAULT_PREVIEW_KEY):
                if stored and key in stored:
                    self[key] = copy.deepcopy(stored[key])
                else:
                    self.pop(key, None)
        bucket = self.bucket
        if bucket is not None:
            if str(self.bucket_id) != str(bucket.id):
                self.dump_bucket(self, bucket)
        elif type(self).load_bucket.__func__ is Record.load_bucket.__func__:
            if stored and "_bucket" in stored:
                self["_bucket"] = stored["_bucket"]
            else:
                self.pop("_bucket", None)

    def commit(self, *args, **kwargs):
        """Store the record; ``_bucket``/``_files`` keep their stored values."""
        if self.model is not None and not self.model.is_deleted:
            self._restore_owned_keys()
        result = super().commit(*args, **kwargs)
        files = self.__dict__.get("_files_iter")
        if files is not None:
            # The commit just wrote the current ``_files``.
            transaction.current_state().dirty.pop(id(files), None)
        return result

    def delete(self, force=False):
        """Delete the record.

        ``force=False`` soft-deletes it: its files are locked (their state
        kept in a tombstone) and its file routes answer 410 Gone until
        :meth:`undelete`. ``force=True`` purges it: the record-bucket link,
        the bucket and its object versions are removed, and bytes no other
        bucket uses are deleted from storage once the transaction commits.

        :returns: the deleted record.
        """
        if self.model is None:
            raise MissingModelError()
        from .lifecycle import bury, purge

        with step():
            if force:
                purge(self)
                super().delete(force=True)
                self._forget_files()
            elif self.model.is_deleted:
                super().delete(force=False)
            else:
                bury(self)
                super().delete(force=False)
                send_signal(signals.files_soft_deleted, record=self)
        return self

    def undelete(self):
        """Restore a soft-deleted record's files as they were."""
        from .lifecycle import restore

        with step():
            super().undelete()
            restore(self)
        return self


__all__ = (
    "FileObject",
    "FilesIterator",
    "FilesMixin",
    "Record",
)
