"""``FilesLocker``: locking and unlocking ``record.files``, its media files with it.

A base class of :class:`~invenio_records_files_ext.files.iterator.FilesIterator`:
:meth:`~invenio_records_files_ext.api.FilesIterator.lock` and
:meth:`~invenio_records_files_ext.api.FilesIterator.unlock`, which the
record's media files follow, and the abort of open multipart uploads that
locking implies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invenio_files_rest.errors import InvalidOperationError
from invenio_files_rest.models import Bucket

from .. import signals
from ..db.steps import send_signal, step
from .buckets import FILES
from .multipart import abort_uploads, open_uploads
from .reading import FilesReader
from .writer import FilesWriter


class FilesLocker(FilesReader):
    """Locking and unlocking a record's files (and media files)."""

    if TYPE_CHECKING:  # The writers' seam, defined by FilesIterator.

        def writable_bucket(self) -> Bucket:
            """Return the bucket to write, or refuse."""

        def writer(self) -> FilesWriter:
            """Return the writer of the bucket's files."""

        def changed(self) -> None:
            """Note that the files changed."""

    def _followers(self) -> list[FilesLocker]:
        """The record's media files, which follow its files' lock state."""
        if self.role != FILES:
            return []
        media = getattr(self.record, "media_files", None)
        return [media] if media is not None else []

    def lock(self) -> None:
        """Lock the files: every later write fails until :meth:`unlock`.

        The record's media files are locked with its files. Multipart
        uploads still open (Files-REST's ``?uploads`` protocol) are aborted
        first: locked, they could never complete, and they would keep their
        share of the bucket's size. Pending files of the three-step upload
        stay (listed to writers, completed after an unlock, removed by
        ``gc`` once abandoned).
        """
        with step():
            for files in (self, *self._followers()):
                files._abort_open_uploads()
            changed = self.writer().set_locked(True)
            for follower in self._followers():
                follower.writer().set_locked(True)
            if changed:
                send_signal(signals.files_locked, record=self.record)

    def _abort_open_uploads(self) -> list[str]:
        """Abort the bucket's open multipart uploads; return their keys."""
        uploads = open_uploads(self.bucket_id)
        if not uploads:
            return []
        return abort_uploads(self.bucket, uploads)

    def unlock(self) -> None:
        """Unlock the files (and media files) of a record that is not deleted."""
        if self.model is not None and self.model.is_deleted:
            raise InvalidOperationError(
                description="The record is deleted; restore it first."
            )
        with step():
            changed = self.writer().set_locked(False)
            for follower in self._followers():
                follower.writer().set_locked(False)
            if changed:
                send_signal(signals.files_unlocked, record=self.record)


__all__ = ("FilesLocker",)
