"""Records with files: ``Record``, ``FilesMixin``, ``FilesIterator``, ``FileObject``.

``record.files`` is a dict-like view of the files in the record's bucket.
Each file is a row of its own (key, position, metadata, object version),
so a change to one file costs the same few statements however many files
the record holds, and never rewrites the record's JSON. The record still
shows its files as ``record["_files"]`` (computed from the rows on first
read, for records of up to ``RECORDS_FILES_INLINE_MAX_ENTRIES`` files).
"""

from __future__ import annotations

from typing import Any, Optional

from invenio_files_rest.models import Bucket
from invenio_records.api import Record as _Record
from invenio_records.errors import MissingModelError

from . import signals
from .access import ownership
from .db.steps import send_signal, step
from .errors import FilesNotEmptyError
from .files import FileObject, FilesIterator, FilesMixin, enabled, inline
from .models import RecordsBuckets
from .records.dumpers import FilesDumpExtension
from .records.lifecycle import bury, purge, restore
from .settings.current import current

MEDIA_BUCKET_KEY = "_media_bucket"
"""Record key naming the media files bucket."""


def _new_bucket(media: bool = False) -> Bucket:
    settings = current().buckets
    options = {}
    for option, value in (
        ("quota_size", settings.media_quota_size if media else settings.quota_size),
        (
            "max_file_size",
            settings.media_max_file_size if media else settings.max_file_size,
        ),
    ):
        if value is not None:
            options[option] = value
    return Bucket.create(
        location=settings.location, storage_class=settings.storage_class, **options
    )


class Record(FilesMixin, _Record):  # type: ignore[misc]  # Invenio-Records is untyped
    """Record class with associated bucket.

    A bucket is created and linked to the record by :meth:`create` (unless
    ``with_bucket`` is false). The bucket id is stored in the record's
    metadata (by default in ``_bucket``); override :meth:`dump_bucket` and
    :meth:`load_bucket` together to store it elsewhere, and
    :meth:`create_bucket` to create buckets differently.

    ``_bucket`` (and ``_media_bucket``, for records with media files)
    belong to this library: a value for them in a record update is ignored
    and the linked buckets' ids kept. ``_files``,
    ``_default_preview`` and ``_files_summary`` are computed from the file
    rows and never stored in the record's JSON.

    ``files: {"enabled": bool}`` (InvenioRDM's shape) says whether the
    record has files; see :attr:`files_enabled`.
    """

    _extensions = [FilesDumpExtension()]

    @classmethod
    def create(
        cls,
        data: dict[str, Any],
        id_: Any = None,
        with_bucket: bool = True,
        with_media_bucket: bool = False,
        **kwargs: Any,
    ) -> Record:
        """Create a record and the associated bucket.

        :param with_bucket: create a bucket automatically on record creation.
            ``data["files"]["enabled"]``, when given, decides instead: a
            record created with ``{"files": {"enabled": False}}`` is
            metadata-only and has no bucket.
        :param with_media_bucket: create a media files bucket too (see
            :meth:`~invenio_records_files_ext.api.FilesMixin.enable_media_files`).
        """
        for key in inline.DERIVED_KEYS:
            data.pop(key, None)
        data.pop(MEDIA_BUCKET_KEY, None)
        flag = enabled.stored_flag(data)
        files_enabled = bool(with_bucket) if flag is None else flag
        enabled.set_flag(data, files_enabled)
        bucket = cls.create_bucket(data) if files_enabled else None
        if bucket is not None:
            cls.dump_bucket(data, bucket)
        media = cls.create_media_bucket(data) if with_media_bucket else None
        if media is not None:
            cls.dump_media_bucket(data, media)
        record = super().create(data, id_=id_, **kwargs)
        if bucket is not None:
            RecordsBuckets.create(record=record, bucket=bucket)
            record.__dict__["_files_bucket"] = bucket
        if media is not None:
            RecordsBuckets.create(record=record, bucket=media)
            ownership.mark_media(media)
        # What the record links is known: no query to find it.
        record.__dict__["_media_bucket"] = media
        # A new record has no files yet: nothing to load.
        inline.reset(record, loaded=True)
        return record  # type: ignore[no-any-return]  # Invenio-Records is untyped

    @classmethod
    def create_bucket(cls, data: dict[str, Any]) -> Optional[Bucket]:
        """Create a bucket for this record.

        Uses ``RECORDS_FILES_BUCKET_LOCATION``,
        ``RECORDS_FILES_BUCKET_STORAGE_CLASS``,
        ``RECORDS_FILES_BUCKET_QUOTA_SIZE`` and
        ``RECORDS_FILES_BUCKET_MAX_FILE_SIZE``, read now so that a changed
        configuration applies to new records. Override to create buckets
        differently; return ``None`` to create none.
        """
        return _new_bucket()

    @classmethod
    def create_media_bucket(cls, data: dict[str, Any]) -> Optional[Bucket]:
        """Create a media files bucket for this record.

        In the files' location and storage class, with
        ``RECORDS_FILES_MEDIA_BUCKET_QUOTA_SIZE`` and
        ``RECORDS_FILES_MEDIA_BUCKET_MAX_FILE_SIZE``. Override to create
        them differently; return ``None`` to have no media files.
        """
        return _new_bucket(media=True)

    def _create_media_bucket(self) -> Optional[Bucket]:
        return self.create_media_bucket(self)

    @classmethod
    def dump_media_bucket(cls, data: dict[str, Any], bucket: Bucket) -> None:
        """Store the media files bucket id in the record metadata (``_media_bucket``)."""
        data[MEDIA_BUCKET_KEY] = str(bucket.id)

    @classmethod
    def load_media_bucket(cls, record: Any) -> Any:
        """Read the media files bucket id from the record metadata."""
        return record.get(MEDIA_BUCKET_KEY)

    def enable_media_files(self) -> FilesIterator:
        """Give the record media files if it has none, and store the record.

        See :meth:`FilesMixin.enable_media_files`; the record is committed
        (``record.commit()``) so that its JSON names the new bucket. The
        caller commits the transaction.
        """
        had = self.media_bucket is not None
        files = super().enable_media_files()
        if not had:
            self.commit()
        return files

    @classmethod
    def dump_bucket(cls, data: dict[str, Any], bucket: Bucket) -> None:
        """Store the bucket id in the record metadata (``_bucket``).

        If you override this method, override :meth:`load_bucket` too.
        """
        data["_bucket"] = str(bucket.id)

    @classmethod
    def load_bucket(cls, record: Any) -> Any:
        """Read the bucket id from the record metadata (``_bucket``).

        If you override this method, override :meth:`dump_bucket` too.
        """
        return record.get("_bucket")

    @property
    def bucket_id(self) -> Any:
        """Return the bucket id stored in the record metadata."""
        return self.load_bucket(self)

    def _restore_bucket_key(self) -> None:
        stored = self.model.json if self.model is not None else None
        bucket = self.bucket
        if bucket is not None:
            if str(self.bucket_id) != str(bucket.id):
                self.dump_bucket(self, bucket)
        elif type(self).load_bucket.__func__ is Record.load_bucket.__func__:  # type: ignore[attr-defined]  # a bound classmethod
            if stored and "_bucket" in stored:
                self["_bucket"] = stored["_bucket"]
            else:
                self.pop("_bucket", None)
        media = self.media_bucket
        if media is not None:
            if str(self.load_media_bucket(self)) != str(media.id):
                self.dump_media_bucket(self, media)
        elif type(self).load_media_bucket.__func__ is Record.load_media_bucket.__func__:  # type: ignore[attr-defined]  # a bound classmethod
            self.pop(MEDIA_BUCKET_KEY, None)

    @property
    def files_enabled(self) -> bool:
        """Whether the record has files (``files.enabled`` in its JSON).

        Setting it to true creates the bucket if the record has none;
        setting it to false needs a record without files (completed or
        pending). Commit the record to store the flag.

        :raises invenio_records_files_ext.errors.FilesNotEmptyError: files
            cannot be disabled while the record has some.
        """
        return enabled.is_enabled(self)

    @files_enabled.setter
    def files_enabled(self, value: bool) -> None:
        """Enable or disable the record's files."""
        if value:
            enabled.set_flag(self, True)
            self._ensure_bucket()
        else:
            self._check_no_files()
            enabled.set_flag(self, False)

    def _ensure_bucket(self) -> None:
        if self.model is None or self.bucket is not None:
            return
        bucket = self.create_bucket(dict(self))
        if bucket is None:
            return
        RecordsBuckets.create(record=self, bucket=bucket)
        self.dump_bucket(self, bucket)
        self._forget_files()
        self.__dict__["_files_bucket"] = bucket

    def _check_no_files(self) -> None:
        files = self.files if self.model is not None else None
        if files is not None and (len(files) or len(files.transfers)):
            raise FilesNotEmptyError()

    def _apply_files_flag(self) -> None:
        stored = self.model.json or {}
        flag = enabled.stored_flag(self)
        if flag is None:
            # An update that leaves the flag out keeps the stored one.
            flag = enabled.stored_flag(stored)
            if flag is None:
                return
            enabled.set_flag(self, flag)
        if flag:
            self._ensure_bucket()
        elif enabled.stored_flag(stored) is not False:
            self._check_no_files()

    def commit(self, *args: Any, **kwargs: Any) -> Record:
        """Store the record; ``_bucket`` keeps the linked bucket's id.

        The derived keys (``_files``...) are not stored: the file rows are
        the truth, and committing a record never changes its files. A
        record whose ``files.enabled`` was set to true gets its bucket now.
        """
        if self.model is not None and not self.model.is_deleted:
            self._apply_files_flag()
            self._restore_bucket_key()
        with inline.suspended(self):
            super().commit(*args, **kwargs)
        return self

    def delete(self, force: bool = False) -> Record:
        """Delete the record.

        ``force=False`` soft-deletes it: its files are locked and its file
        routes answer 410 Gone until :meth:`undelete`. ``force=True`` purges
        it: the record-bucket link, the bucket, its rows and object versions
        are removed, and bytes no other bucket uses are deleted from storage
        once the transaction commits.

        :returns: the deleted record.
        """
        if self.model is None:
            raise MissingModelError()
        with step():
            if force:
                purge(self)
                with inline.suspended(self):
                    super().delete(force=True)
                self._forget_files()
            elif self.model.is_deleted:
                super().delete(force=False)
            else:
                bury(self)
                with inline.suspended(self):
                    super().delete(force=False)
                send_signal(signals.files_soft_deleted, record=self)
        return self

    def undelete(self) -> Record:
        """Restore a soft-deleted record's files as they were."""
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
