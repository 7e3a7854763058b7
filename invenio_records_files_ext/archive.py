"""A record's files as one zip archive, streamed with constant memory.

:func:`stream_archive` yields the bytes of a zip archive of the current
files of a bucket, in the record's order, under their keys. Nothing is
written to disk: each file is read through its storage in chunks
(``RECORDS_FILES_ARCHIVE_CHUNK_SIZE``) and passed on as it comes; small
pieces (headers, small files) are gathered into blocks of at least
``RECORDS_FILES_ARCHIVE_BLOCK_SIZE`` bytes so that the server writes few,
large blocks. The file rows are read a page at a time and the database
transaction is ended between pages (when it has only read), so a long
download holds no transaction open. Memory stays at a few chunks plus the
central directory (about 50 bytes and the name per file).

When the files change while the archive is being read, each page shows the
files as they were when it was read; lock the files (published records
are) for an archive of one moment.

The archive's *layout* (:class:`ArchiveLayout`) names its members and may
add members of its own before and after the files: the plain layout
stores each file under its key and adds nothing; a BagIt bag
(:mod:`invenio_records_files_ext.bags`) is another layout of the same
stream, with the same selection of files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Optional, Protocol

from flask import current_app

from .blobs import read_chunks, storage_of
from .files import queries
from .ledger import release_if_read_only
from .zipwriter import LIMIT_32, ZipStreamWriter

DEFAULT_CHUNK_SIZE = 1024 * 1024
DEFAULT_BLOCK_SIZE = 64 * 1024


class ArchiveLayout(Protocol):
    """How an archive names its members and what it adds around the files."""

    def start(self, writer: ZipStreamWriter) -> Iterator[bytes]:
        """Yield the members written before the files."""
        ...  # pragma: no cover

    def page(self, rows: list[Any]) -> None:
        """Take note of a page of file rows, in the page's read transaction."""
        ...  # pragma: no cover

    def member(self, row: Any, chunks: Iterator[bytes]) -> tuple[str, Iterator[bytes]]:
        """Return the member name of a file row, and the chunks to store."""
        ...  # pragma: no cover

    def finish(self, writer: ZipStreamWriter) -> Iterator[bytes]:
        """Yield the members written after the files."""
        ...  # pragma: no cover


class PlainLayout:
    """The plain archive: each file under its key, nothing added."""

    def start(self, writer: ZipStreamWriter) -> Iterator[bytes]:
        """Add nothing."""
        return iter(())

    def page(self, rows: list[Any]) -> None:
        """Nothing to note."""

    def member(self, row: Any, chunks: Iterator[bytes]) -> tuple[str, Iterator[bytes]]:
        """The file's key, its bytes as read."""
        return row.key, chunks

    def finish(self, writer: ZipStreamWriter) -> Iterator[bytes]:
        """Add nothing."""
        return iter(())


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name) or default)


def _gathered(pieces: Iterable[bytes], block_size: int) -> Iterator[bytes]:
    """Pass large pieces on, gather small ones into blocks of ``block_size``."""
    pending: list[bytes] = []
    pending_size = 0
    for piece in pieces:
        if len(piece) >= block_size:
            if pending:
                yield b"".join(pending)
                pending, pending_size = [], 0
            yield piece
            continue
        pending.append(piece)
        pending_size += len(piece)
        if pending_size >= block_size:
            yield b"".join(pending)
            pending, pending_size = [], 0
    if pending:
        yield b"".join(pending)


def _pieces(
    bucket_id: Any,
    chunk_size: int,
    page_size: int,
    zip64_from: int,
    layout: ArchiveLayout,
) -> Iterator[bytes]:
    writer = ZipStreamWriter(zip64_from=zip64_from)
    yield from layout.start(writer)
    after: Optional[queries.Cursor] = None
    while True:
        rows = queries.stored_page(bucket_id, after, page_size)
        layout.page(rows)
        # Nothing of the transaction is needed while the bytes go out.
        release_if_read_only()
        for row in rows:
            storage = storage_of(
                row.file_id, row.uri, row.size, row.storage_class, row.updated
            )
            name, chunks = layout.member(row, read_chunks(storage, chunk_size))
            yield from writer.member(name, chunks, row.size or 0, row.updated)
        if len(rows) < page_size:
            break
        after = queries.Cursor(rows[-1].position, rows[-1].key)
    yield from layout.finish(writer)
    yield writer.finish()


def stream_archive(
    bucket_id: Any,
    chunk_size: Optional[int] = None,
    page_size: int = queries.ITER_CHUNK_SIZE,
    zip64_from: int = LIMIT_32,
    layout: Optional[ArchiveLayout] = None,
) -> Iterator[bytes]:
    """Yield the bytes of a zip archive of the bucket's current files.

    :param chunk_size: bytes read from storage at a time (default
        ``RECORDS_FILES_ARCHIVE_CHUNK_SIZE``).
    :param page_size: file rows read per query.
    :param zip64_from: see :class:`~invenio_records_files_ext.zipwriter.ZipStreamWriter`.
    :param layout: names the members and adds members of its own (default
        :class:`PlainLayout`).
    :raises invenio_records_files_ext.errors.ArchiveSizeError: while
        streaming, if a file's stored bytes are not as long as recorded
        (the archive is then cut short).
    """
    chunk_size = chunk_size or _setting(
        "RECORDS_FILES_ARCHIVE_CHUNK_SIZE", DEFAULT_CHUNK_SIZE
    )
    block_size = _setting("RECORDS_FILES_ARCHIVE_BLOCK_SIZE", DEFAULT_BLOCK_SIZE)
    pieces = _pieces(
        bucket_id, chunk_size, page_size, zip64_from, layout or PlainLayout()
    )
    return _gathered(pieces, block_size)


def archive_name(pid_value: Any, role: str = "files") -> str:
    """Return the download name of a record's archive (``<pid>.zip``)."""
    suffix = "" if role == "files" else "-" + role
    return "{0}{1}.zip".format(pid_value, suffix)


__all__ = ("ArchiveLayout", "PlainLayout", "archive_name", "stream_archive")
