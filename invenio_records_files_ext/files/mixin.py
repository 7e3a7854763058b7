"""``FilesMixin``: the ``files`` property of a record class.

The record's bucket is the one linked to it in
:class:`~invenio_records_files_ext.models.RecordsBuckets`; ``record.files``
is a :class:`~invenio_records_files_ext.files.iterator.FilesIterator` over it. The mixin also makes the
record show its files as ``record["_files"]`` (see :mod:`~invenio_records_files_ext.files.inline`): for
that, list it *before* the record base class, as
:class:`~invenio_records_files_ext.api.Record` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from flask import has_app_context
from invenio_files_rest.models import Bucket
from invenio_records.errors import MissingModelError

from ..access import ownership
from ..errors import FilesAlreadySetError, InvalidOperationError, TooManyFilesError
from ..models import RecordsBuckets
from . import hooks, inline, sync
from .buckets import FILES, MEDIA, LinkedBuckets, linked_buckets
from .entries import FILES_KEY
from .fileobject import FileObject
from .iterator import FilesIterator

if TYPE_CHECKING:
    # The mixin is always mixed into a record class, which is a dict:
    # Invenio-Records ships no types, so mypy checks the mixin's ``super()``
    # calls against ``dict``'s.
    _RecordDict = dict[str, Any]
else:
    _RecordDict = object

_MISSING = object()
_SYNCED = "_rfx_synced"


class FilesMixin(_RecordDict):
    """Give a record class a ``files`` property backed by a linked bucket.

    Implement ``_create_bucket()`` in a subclass to create and link a bucket
    on first access when the record has none.
    """

    file_cls: Any = FileObject
    """File class used to generate the instance of files."""

    files_iter_cls: Any = FilesIterator
    """Files iterator class used to generate the files iterator."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialise the record; stored copies of derived keys are dropped."""
        super().__init__(*args, **kwargs)
        # An application that uses the record API without initialising the
        # extension gets the session hooks from its first record on.
        hooks.ensure_session_hooks()
        for key in inline.DERIVED_KEYS:
            # The mixin is always mixed into a dict (a record): drop the
            # stored copy from the dict itself, bypassing any override.
            dict.pop(self, key, None)
        inline.reset(self)

    #
    # The record's dict shows its files
    #
    def _load_inline(self) -> None:
        current = self.__dict__.get(inline.STATE)
        if current in (inline.LOADING, inline.SUSPENDED):
            return
        seen = self._synced_changes()
        if current is not inline.NOT_LOADED:
            if seen == self.__dict__.get(_SYNCED, 0):
                return
            # Other code changed the bucket (Files-REST's API, say): the
            # rows were brought in step, the keys shown are read again.
            inline.forget(self)
        self.__dict__[_SYNCED] = seen
        inline.load(self)

    def _synced_changes(self) -> int:
        if (
            getattr(self, "model", None) is None
            or getattr(self, "id", None) is None
            or not has_app_context()
        ):
            return 0
        return sync.changes_of(bucket.id for _, bucket in self.buckets_by_role())

    def __getitem__(self, key: Any) -> Any:
        """Return a value; ``_files`` is read from the file rows when needed.

        :raises invenio_records_files_ext.errors.TooManyFilesError: for
            ``_files`` of a record with more files than
            ``RECORDS_FILES_INLINE_MAX_ENTRIES``.
        """
        if key in inline.INLINE_KEYS:
            self._load_inline()
            if key == FILES_KEY and inline.state(self) == inline.OVERFLOW:
                raise TooManyFilesError(inline.max_entries())
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        """Return a value or ``default`` (``_files`` is read as ``record["_files"]`` is)."""
        if key in inline.INLINE_KEYS:
            self._load_inline()
        return super().get(key, default)

    def __contains__(self, key: Any) -> bool:
        """Tell whether the record has a key (``_files`` if it has files)."""
        if key in inline.INLINE_KEYS:
            self._load_inline()
        return bool(super().__contains__(key))

    def __iter__(self) -> Any:
        """Iterate over the keys, ``_files`` included."""
        self._load_inline()
        return super().__iter__()

    def keys(self) -> Any:
        """Return the keys, ``_files`` included."""
        self._load_inline()
        return super().keys()

    def items(self) -> Any:
        """Return the items, ``_files`` included."""
        self._load_inline()
        return super().items()

    def values(self) -> Any:
        """Return the values, ``_files`` included."""
        self._load_inline()
        return super().values()

    def copy(self) -> dict[str, Any]:
        """Return a shallow copy as a plain dict, ``_files`` included."""
        self._load_inline()
        return dict(super().items())

    #
    # The bucket
    #
    def _create_bucket(self) -> Optional[Bucket]:
        """Return a new bucket for a record that has none (default: none)."""
        return None

    def _linked(self) -> LinkedBuckets:
        cached = self.__dict__.get("_linked_buckets")
        if cached is None:
            wanted_media = None
            if hasattr(self, "load_media_bucket"):
                wanted_media = self.load_media_bucket(self)
            cached = linked_buckets(
                self.id,  # type: ignore[attr-defined]  # the record class's
                getattr(self, "bucket_id", None),
                wanted_media,
            )
            self.__dict__["_linked_buckets"] = cached
        return cached

    def _linked_bucket(self) -> Optional[Bucket]:
        return self._linked().files

    @property
    def bucket(self) -> Optional[Bucket]:
        """Return the bucket linked to the record, or ``None``."""
        cached = self.__dict__.get("_files_bucket", _MISSING)
        if cached is not _MISSING:
            return cached
        if getattr(self, "model", None) is None or getattr(self, "id", None) is None:
            return None
        bucket = self._linked_bucket()
        self.__dict__["_files_bucket"] = bucket
        return bucket

    @property
    def media_bucket(self) -> Optional[Bucket]:
        """Return the record's media files bucket, or ``None``."""
        cached = self.__dict__.get("_media_bucket", _MISSING)
        if cached is not _MISSING:
            return cached
        if getattr(self, "model", None) is None or getattr(self, "id", None) is None:
            return None
        bucket = self._linked().media
        self.__dict__["_media_bucket"] = bucket
        return bucket

    def buckets_by_role(self) -> list[tuple[str, Bucket]]:
        """Return ``(role, bucket)`` of the record's files and media files buckets."""
        found = []
        for role, bucket in ((FILES, self.bucket), (MEDIA, self.media_bucket)):
            if bucket is not None:
                found.append((role, bucket))
        return found

    def _forget_files(self) -> None:
        for name in (
            "_files_bucket",
            "_files_iter",
            "_media_bucket",
            "_media_iter",
            "_linked_buckets",
        ):
            self.__dict__.pop(name, None)
        inline.forget(self)

    @property
    def files(self) -> Optional[FilesIterator]:
        """Return the files iterator, or ``None`` if the record has no bucket.

        :raises invenio_records.errors.MissingModelError: if the record has
            not been stored yet.
        """
        if getattr(self, "model", None) is None:
            raise MissingModelError()
        hooks.ensure_session_hooks()
        bucket = self.bucket
        if bucket is None:
            bucket = self._create_bucket()
            if bucket is None:
                return None
            RecordsBuckets.create(record=self, bucket=bucket)
            if hasattr(self, "dump_bucket"):
                self.dump_bucket(self, bucket)
            self.__dict__["_files_bucket"] = bucket
            self.__dict__.pop("_linked_buckets", None)
        files: Optional[FilesIterator] = self.__dict__.get("_files_iter")
        if files is None or files.bucket is not bucket:
            files = self.files_iter_cls(self, bucket=bucket, file_cls=self.file_cls)
            self.__dict__["_files_iter"] = files
        return files

    @files.setter
    def files(self, data: Any) -> None:
        """Store a mapping of keys to streams in a record that has no files.

        :raises invenio_records_files_ext.errors.FilesAlreadySetError: a
            :class:`RuntimeError`, if the record already has files.
        """
        current = self.files
        if current is None:
            raise InvalidOperationError(description="The record has no bucket.")
        if len(current):
            raise FilesAlreadySetError()
        current.update(data)

    @property
    def media_files(self) -> Optional[FilesIterator]:
        """Return the media files iterator, or ``None`` if the record has none.

        Media files (previews, thumbnails, derived formats...) are a second
        set of files with a bucket, quota and routes of their own; see
        :meth:`enable_media_files`.

        :raises invenio_records.errors.MissingModelError: if the record has
            not been stored yet.
        """
        if getattr(self, "model", None) is None:
            raise MissingModelError()
        hooks.ensure_session_hooks()
        bucket = self.media_bucket
        if bucket is None:
            return None
        files: Optional[FilesIterator] = self.__dict__.get("_media_iter")
        if files is None or files.bucket is not bucket:
            files = self.files_iter_cls(
                self, bucket=bucket, file_cls=self.file_cls, role=MEDIA
            )
            self.__dict__["_media_iter"] = files
        return files

    def _create_media_bucket(self) -> Optional[Bucket]:
        """Return a new bucket for the record's media files (default: none)."""
        return None

    def enable_media_files(self) -> FilesIterator:
        """Give the record a media files bucket if it has none; return its files.

        The bucket is created by ``_create_media_bucket()`` (for
        :class:`~invenio_records_files_ext.api.Record`, from the
        ``RECORDS_FILES_MEDIA_BUCKET_*`` settings), linked to the record and
        tagged as its media bucket. The caller commits.

        :raises invenio_records_files_ext.errors.InvalidOperationError: if
            the record class creates no media bucket.
        """
        current = self.media_files
        if current is not None:
            return current
        bucket = self._create_media_bucket()
        if bucket is None:
            raise InvalidOperationError(
                description="This record class has no media files."
            )
        if self.bucket is not None and self.bucket.locked:
            # Media files follow the record's files: published, they are locked.
            bucket.locked = True
        RecordsBuckets.create(record=self, bucket=bucket)
        ownership.mark_media(bucket)
        if hasattr(self, "dump_media_bucket"):
            self.dump_media_bucket(self, bucket)
        self.__dict__["_media_bucket"] = bucket
        self.__dict__.pop("_linked_buckets", None)
        inline.forget(self)
        files = self.media_files
        assert files is not None, "the media bucket was just linked"
        return files
