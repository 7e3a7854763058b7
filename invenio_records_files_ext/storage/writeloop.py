"""The write loop: a stream's bytes into a local file, hashed on the way.

Every upload path ends here (through the storage of
:mod:`~invenio_records_files_ext.storage.writes`): each chunk is read once, handed
to the hash objects (:class:`~invenio_records_files_ext.storage.digests.Digests`,
one thread each), written, and the file's writeback paced
(:class:`~invenio_records_files_ext.storage.writeback.Writeback`). Reading,
hashing, writing and flushing overlap, so an upload costs about the slowest
of them, not their sum.

No byte is copied more than it must be: a stream with ``readinto`` (a
file, waitress's request body) is read into a few buffers reused in turn,
which the hash threads and ``write`` read in place; a stream with only
``read`` (gunicorn's request body) hands over the bytes objects it makes
anyway. At most :data:`DEPTH` chunks wait to be hashed, so memory stays at a
few chunks whatever the size of the file.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Optional

from invenio_files_rest.storage.base import check_size, check_sizelimit

from .digests import Digests, Hashing
from .writeback import WINDOW, Writeback, drop_cached

DEPTH = 2
"""Chunks that may wait to be hashed while the next one is read."""


class ChunkReader:
    """Chunks of at most ``chunk_size`` bytes read from ``src``.

    Into ``DEPTH + 1`` reused buffers when ``src`` has ``readinto``; the
    caller waits for a chunk's hashing before the buffer comes round again.
    """

    def __init__(self, src: Any, chunk_size: int) -> None:
        """Read ``src``; buffers are made on the first read."""
        self.src = src
        self.chunk_size = chunk_size
        self._readinto = getattr(src, "readinto", None)
        self._buffers: list[memoryview] = []
        self._turn = 0

    def read(self) -> Any:
        """Return the next chunk (empty at the end of the stream)."""
        if self._readinto is None:
            return self.src.read(self.chunk_size)
        if not self._buffers:
            self._buffers = [
                memoryview(bytearray(self.chunk_size)) for _ in range(DEPTH + 1)
            ]
        buffer = self._buffers[self._turn]
        self._turn = (self._turn + 1) % len(self._buffers)
        read = self._readinto(buffer)
        return buffer[: read or 0]


def copy_stream(
    src: Any,
    dst: Any,
    digests: Digests,
    size: Optional[int] = None,
    size_limit: Any = None,
    chunk_size: int = 1024 * 1024,
    progress_callback: Optional[Callable[[Optional[int], int], Any]] = None,
    writeback: Optional[Writeback] = None,
) -> int:
    """Copy ``src`` into the file object ``dst``; return the bytes written.

    :param digests: fed every byte; wait for nothing: this returns once
        they are all hashed.
    :param size: the announced size: a longer or shorter stream raises
        :class:`~invenio_files_rest.errors.UnexpectedFileSizeError`.
    :param size_limit: an ``int`` or a
        :class:`~invenio_files_rest.limiters.FileSizeLimit`: past it,
        :class:`~invenio_files_rest.errors.FileSizeError`.
    :param progress_callback: Invenio-Files-REST's ``(total, written)``.
    :param writeback: paces and, at the end, makes the write durable.
    """
    reader = ChunkReader(src, chunk_size)
    waiting: deque[Hashing] = deque()
    written = 0
    while True:
        check_sizelimit(size_limit, written, size)
        while len(waiting) > DEPTH:
            # The buffer read next held the chunk read DEPTH + 1 turns ago.
            waiting.popleft().wait()
        chunk = reader.read()
        if not chunk:
            break
        waiting.append(digests.update(chunk))
        dst.write(chunk)
        written += len(chunk)
        if writeback is not None:
            writeback.advance(written)
        if progress_callback:
            progress_callback(None, written)
    while waiting:
        waiting.popleft().wait()
    check_size(written, size)
    if writeback is not None:
        writeback.finish()
    if progress_callback:
        progress_callback(written, written)
    return written


def hash_stream(
    src: Any,
    digests: Digests,
    chunk_size: int = 1024 * 1024,
    progress_callback: Optional[Callable[[int], Any]] = None,
) -> int:
    """Feed all of ``src`` to ``digests``; return the bytes read.

    Stored bytes read back to checksum them (a multipart upload's commit)
    are read like an upload is written: into reused buffers, hashed in
    threads while the next chunk is read. When ``src`` is a file, the
    pages read are dropped from the page cache behind the read, every
    :data:`~invenio_records_files_ext.storage.writeback.WINDOW` bytes: a file read
    once does not push the rest of the cache out, nor make the next upload
    write into memory the kernel must find first.
    """
    reader = ChunkReader(src, chunk_size)
    waiting: deque[Hashing] = deque()
    fd = _descriptor(src)
    start = src.tell() if fd is not None else 0
    read = dropped = 0
    while True:
        while len(waiting) > DEPTH:
            waiting.popleft().wait()
        chunk = reader.read()
        if not chunk:
            break
        waiting.append(digests.update(chunk))
        read += len(chunk)
        if fd is not None and read - dropped >= WINDOW:
            drop_cached(fd, start + dropped, read - dropped)
            dropped = read
        if progress_callback:
            progress_callback(read)
    while waiting:
        waiting.popleft().wait()
    if fd is not None:
        drop_cached(fd, start + dropped, read - dropped)
    return read


def _descriptor(src: Any) -> Optional[int]:
    """The file descriptor of ``src``, or ``None`` (S3 files have none)."""
    try:
        return int(src.fileno())
    except (AttributeError, OSError, ValueError):
        return None


__all__ = ("DEPTH", "ChunkReader", "copy_stream", "hash_stream")
