"""``FilesArranger``: the order, default preview and per-file metadata of ``record.files``.

A base class of :class:`~invenio_records_files_ext.files.iterator.FilesIterator`:
:meth:`~invenio_records_files_ext.api.FilesIterator.sort_by`, the
:attr:`~invenio_records_files_ext.api.FilesIterator.default_preview`
setter, and setting or removing one metadata value of a file (what
``FileObject``'s item assignment and deletion call). Each change goes
through the writer inside a step, like every write of ``FilesIterator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from invenio_files_rest.models import Bucket

from ..db.steps import step
from ..errors import FileNotInRecordError
from . import queries
from .entries import check_user_metadata_name, file_fields
from .reading import FilesReader
from .writer import MISSING, FilesWriter


class FilesArranger(FilesReader):
    """The order, default preview and per-file metadata of a record's files."""

    if TYPE_CHECKING:  # The writers' seam, defined by FilesIterator.

        def writable_bucket(self) -> Bucket:
            """Return the bucket to write, or refuse."""

        def writer(self) -> FilesWriter:
            """Return the writer of the bucket's files."""

        def changed(self) -> None:
            """Note that the files changed."""

    @property
    def default_preview(self) -> Optional[str]:
        """The key of the file to preview by default, or ``None``.

        Setting it to a key that is not a file of the record raises
        :class:`KeyError`; it follows renames and is cleared when the file
        is deleted.
        """
        return super().default_preview

    @default_preview.setter
    def default_preview(self, key: Optional[str]) -> None:
        """Make ``key`` the default preview (``None``: none); refuse unknown keys."""
        self.writable_bucket()
        with step():
            self.writer().set_default_preview(key)
        self.changed()

    def sort_by(self, *ids: Any) -> None:
        """Change the files' order.

        :param ids: keys or file ids. The files named come first, in this
            order; the others follow in their current order.
        """
        self._settle()
        named = [self.stored_key(str(id_)) for id_ in ids]
        known = queries.stored_entries(self.bucket_id, named)
        by_file_id = queries.keys_of_file_ids(
            self.bucket_id, [id_ for id_ in named if id_ not in known]
        )
        keys = []
        for id_, name in zip(ids, named):
            key = name if name in known else by_file_id.get(name)
            if key is None:
                raise FileNotInRecordError(id_)
            keys.append(key)
        self.writable_bucket()
        with step():
            self.writer().reorder(keys)
        self.changed()

    def _set_metadata(self, fileobj: Any, name: str, value: Any) -> dict[str, Any]:
        """Set one metadata value of a file; return its new entry.

        :raises invenio_records_files_ext.errors.ReservedMetadataError: for
            a name the library keeps (``_extracted``).
        """
        check_user_metadata_name(name)
        self.writable_bucket()
        with step():
            data = self.writer().set_metadata(fileobj.obj.key, name, value)
        self.changed()
        entry = dict(fileobj.data)
        for stale in set(entry) - set(data) - set(file_fields(fileobj.obj)):
            del entry[stale]
        entry.update(data)
        return entry

    def _delete_metadata(self, fileobj: Any, name: str) -> dict[str, Any]:
        """Remove one metadata value of a file; return its new entry."""
        return self._set_metadata(fileobj, name, MISSING)


__all__ = ("FilesArranger",)
