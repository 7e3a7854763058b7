"""``FilesReader``: reading a record's files (the read half of ``record.files``).

Reads go through :mod:`invenio_records_files_ext.files.queries`: one query
each, or one per chunk of 1,000 files when iterating. Before reading,
changes other code made to the bucket in this transaction are applied to
the rows (:func:`invenio_records_files_ext.files.sync.settle`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import Bucket, ObjectVersion

from ..db import versions
from ..db.keys import spellings
from ..errors import FileNotInRecordError
from ..storage.checksums import fill_entries
from . import inline, queries, sync
from .buckets import FILES
from .entries import file_fields
from .fileobject import FileObject


class FilesReader:
    """Dict-like reading of the files of a record.

    Keys are file keys, values are ``file_cls`` instances. Iteration follows
    the record's order and reads the files in chunks, so it works for
    records with any number of files.
    """

    def __init__(
        self,
        record: Any,
        bucket: Optional[Bucket] = None,
        file_cls: Any = None,
        role: str = FILES,
    ) -> None:
        """Bind to a record and one of its buckets.

        :param role: :data:`~invenio_records_files_ext.files.buckets.FILES`
            (``record.files``) or
            :data:`~invenio_records_files_ext.files.buckets.MEDIA`
            (``record.media_files``).
        """
        self.record = record
        self.role = role
        self.model = getattr(record, "model", None)
        # Typed as a bucket: records always bind their files to one (see
        # FilesMixin); ``None`` is the original's signature only, for which
        # _bound_bucket() asserts.
        self.bucket: Bucket = bucket
        self.bucket_id = bucket.id if bucket is not None else None
        self.file_cls = file_cls or FileObject
        self._it: Optional[Iterator[Any]] = None

    def _bound_bucket(self) -> Bucket:
        # Records always bind their files to a bucket (see FilesMixin); a
        # reader made without one has no state to read or change.
        assert self.bucket is not None, "these files have no bucket"
        return self.bucket

    #
    # Reading
    #
    def settle(self) -> None:
        """Bring the rows in step with object versions other code wrote."""
        sync.settle(self.bucket_id)

    _settle = settle

    def stored_key(self, key: str) -> str:
        """Return the spelling under which ``key`` is stored.

        Keys are stored normalised (NFC), so the decomposed spelling of
        ``café.txt`` names the same file as the composed one. Files stored
        before keys were normalised keep their own spelling: it is found
        too (at the cost of one query, for keys that are not normalised).
        """
        if not isinstance(key, str):
            return key
        forms = spellings(key)
        if len(forms) > 1:
            self._settle()
            for form in forms:
                if queries.contains(self.bucket_id, form):
                    return form
        return forms[0]

    def make_file(self, obj: ObjectVersion, entry: dict[str, Any]) -> Any:
        """Return the ``file_cls`` instance of a version and its entry, bound to these files."""
        fileobj = self.file_cls(obj, entry)
        fileobj._files = self
        return fileobj

    _make_file = make_file

    @property
    def keys(self) -> list[str]:
        """Return the file keys in the record's order."""
        self._settle()
        return queries.keys(self.bucket_id)

    def __len__(self) -> int:
        """Return the number of files."""
        self._settle()
        return queries.count(self.bucket_id)

    def __contains__(self, key: object) -> bool:
        """Tell whether the record has a file with this key."""
        if not isinstance(key, str):
            return False
        key = self.stored_key(key)
        self._settle()
        return queries.contains(self.bucket_id, key)

    def __iter__(self) -> FilesReader:
        """Iterate over the files in the record's order, chunk by chunk."""
        self._settle()
        self._it = (
            self._make_file(obj, entry)
            for obj, entry in queries.iterate(self.bucket_id)
        )
        return self

    def __next__(self) -> Any:
        """Return the next file."""
        if self._it is None:
            iter(self)
        assert self._it is not None
        return next(self._it)

    next = __next__

    def __getitem__(self, key: str) -> Any:
        """Return the file with this key, or raise :class:`KeyError`."""
        self._settle()
        found = queries.get_file(self.bucket_id, self.stored_key(key))
        if found is None:
            raise FileNotInRecordError(key)
        return self._make_file(*found)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the file with this key, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def dumps(self, bucket: Optional[Bucket] = None) -> list[dict[str, Any]]:
        """Serialize the files in the record's order.

        :param bucket: another :class:`~invenio_files_rest.models.Bucket`
            to serialize instead (its current files, by key, without
            metadata).
        :returns: list of entries: file fields plus per-file metadata.
        """
        if bucket is not None and bucket.id != self.bucket_id:
            objects = db.session.execute(
                versions.heads_query(bucket.id).order_by(ObjectVersion.key)
            ).scalars()
            others = [dict(file_fields(obj)) for obj in objects]
            fill_entries(others)
            return others
        self._settle()
        entries = [
            queries.entry_from_row(self.bucket_id, row)
            for row in queries.iterate_rows(self.bucket_id)
        ]
        fill_entries(entries)
        return entries

    @property
    def filesmap(self) -> dict[str, dict[str, Any]]:
        """Return ``{key: entry}`` in the record's order."""
        return {entry["key"]: entry for entry in self.dumps()}

    def summary(self) -> dict[str, Any]:
        """Return count, total bytes, MIME types and default preview."""
        self._settle()
        found = queries.summary(self.bucket_id)
        found["inline"] = found["count"] <= inline.max_entries()
        return dict(found)

    @property
    def locked(self) -> bool:
        """Tell whether the record's files are locked."""
        return bool(self._bound_bucket().locked)

    @property
    def default_preview(self) -> Optional[str]:
        """The key of the file to preview by default, or ``None``.

        Setting it to a key that is not a file of the record raises
        :class:`KeyError`; it follows renames and is cleared when the file
        is deleted.
        """
        self._settle()
        return queries.default_preview(self.bucket_id)
