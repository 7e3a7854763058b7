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

Members are stored, so the archive's length is known before its first
byte: :func:`prepare_archive` counts it from the members' names and sizes
(:func:`~invenio_records_files_ext.archives.zipwriter.archive_length`, one pass over
the file rows, no bytes read) and the stream is held to it.

Which members an archive holds, under which names, is its *layout*: a
callable ``layout(bucket_id, page_size)`` yielding
:class:`ArchiveMember` in order. :func:`files_layout` is the record's
files under their keys; another layout (a bag, say) yields other names
and extra members. A layout is called twice, once to count and once to
write, and must yield the same members both times.

Remote files (storage class ``R``: bytes kept elsewhere, under a URL)
are left out of :func:`files_layout`: their bytes are not ours to read.

When the files change while the archive is being read, each page shows the
files as they were when it was read; the stream then no longer matches the
length announced, and it is cut
(:class:`~invenio_records_files_ext.errors.ArchiveSizeError`). Lock the
files (published records are) for an archive of one moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional

from ..db.ledger import release_if_read_only
from ..errors import ArchiveSizeError
from ..files import queries
from ..models import REMOTE_STORAGE_CLASS
from ..settings.current import current
from ..storage.reads import read_chunks, storage_of
from .zipwriter import LIMIT_32, ZipStreamWriter, archive_length


@dataclass(frozen=True)
class ArchiveMember:
    """One member of an archive: its name, its size and where its bytes are."""

    name: str
    """Its name inside the archive."""

    size: int
    """Its length in bytes, known before it is read."""

    open: Callable[[int], Iterable[bytes]]
    """``open(chunk_size)``: its bytes, read when the member is written."""

    modified: Optional[datetime] = None
    """Its date in the archive."""

    row: Any = None
    """The file row it holds, for layouts built on :func:`files_layout`."""


Layout = Callable[[Any, int], Iterable[ArchiveMember]]
"""``layout(bucket_id, page_size)``: an archive's members, in order."""


@dataclass(frozen=True)
class Archive:
    """An archive about to be streamed: its exact length, then its bytes."""

    length: int
    """The number of bytes :attr:`chunks` yields."""

    chunks: Iterator[bytes]
    """The archive's bytes, produced as they are iterated."""


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


def _opener(row: Any) -> Callable[[int], Iterable[bytes]]:
    def open_row(chunk_size: int) -> Iterable[bytes]:
        storage = storage_of(
            row.file_id, row.uri, row.size, row.storage_class, row.updated
        )
        return read_chunks(storage, chunk_size)

    return open_row


def files_layout(bucket_id: Any, page_size: int) -> Iterator[ArchiveMember]:
    """Yield the bucket's current stored files under their keys, in order.

    Remote files are left out. The rows are read ``page_size`` at a time;
    the transaction is ended between pages when it has only read.
    """
    after: Optional[queries.Cursor] = None
    while True:
        rows = queries.stored_page(bucket_id, after, page_size)
        # Nothing of the transaction is needed while the bytes go out.
        release_if_read_only()
        for row in rows:
            if row.storage_class == REMOTE_STORAGE_CLASS:
                continue
            yield ArchiveMember(row.key, row.size or 0, _opener(row), row.updated, row)
        if len(rows) < page_size:
            return
        after = queries.Cursor(rows[-1].position, rows[-1].key)


def _pieces(
    members: Iterable[ArchiveMember], chunk_size: int, zip64_from: int
) -> Iterator[bytes]:
    writer = ZipStreamWriter(zip64_from=zip64_from)
    for member in members:
        yield from writer.member(
            member.name, member.open(chunk_size), member.size, member.modified
        )
    yield writer.finish()


def stream_archive(
    bucket_id: Any,
    chunk_size: Optional[int] = None,
    page_size: int = queries.ITER_CHUNK_SIZE,
    zip64_from: int = LIMIT_32,
    layout: Layout = files_layout,
) -> Iterator[bytes]:
    """Yield the bytes of a zip archive of the bucket's current files.

    :param chunk_size: bytes read from storage at a time (default
        ``RECORDS_FILES_ARCHIVE_CHUNK_SIZE``).
    :param page_size: file rows read per query.
    :param zip64_from: see :class:`~invenio_records_files_ext.archives.zipwriter.ZipStreamWriter`.
    :param layout: the members and their names (:func:`files_layout`).
    :raises invenio_records_files_ext.errors.ArchiveSizeError: while
        streaming, if a file's stored bytes are not as long as recorded
        (the archive is then cut short).
    """
    settings = current().archives
    chunk_size = chunk_size or settings.chunk_size
    block_size = settings.block_size
    members = layout(bucket_id, page_size)
    return _gathered(_pieces(members, chunk_size, zip64_from), block_size)


def _held_to(chunks: Iterator[bytes], length: int) -> Iterator[bytes]:
    """Yield ``chunks``; raise the moment they part from ``length`` bytes."""
    sent = 0
    for chunk in chunks:
        sent += len(chunk)
        if sent > length:
            break
        yield chunk
    if sent != length:
        raise ArchiveSizeError(
            "The files changed while the archive was read: it is not the {0} "
            "bytes announced.".format(length)
        )


def prepare_archive(
    bucket_id: Any,
    chunk_size: Optional[int] = None,
    page_size: int = queries.ITER_CHUNK_SIZE,
    zip64_from: int = LIMIT_32,
    layout: Layout = files_layout,
) -> Archive:
    """Count the archive of :func:`stream_archive`, and prepare its bytes.

    The length is counted now, from the members' names and sizes (one pass
    over the file rows, no bytes read); the bytes are produced as
    :attr:`Archive.chunks` is iterated, and stop with
    :class:`~invenio_records_files_ext.errors.ArchiveSizeError` if they
    part from the length (files changed in between, stored bytes of
    another size).
    """
    length = archive_length(
        ((member.name, member.size) for member in layout(bucket_id, page_size)),
        zip64_from,
    )
    chunks = stream_archive(bucket_id, chunk_size, page_size, zip64_from, layout)
    return Archive(length, _held_to(chunks, length))


def archive_name(pid_value: Any, role: str = "files") -> str:
    """Return the download name of a record's archive (``<pid>.zip``)."""
    suffix = "" if role == "files" else "-" + role
    return "{0}{1}.zip".format(pid_value, suffix)


__all__ = (
    "Archive",
    "ArchiveMember",
    "Layout",
    "archive_name",
    "files_layout",
    "prepare_archive",
    "stream_archive",
)
