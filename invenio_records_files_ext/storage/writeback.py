"""Getting written bytes onto the disk: durable before acknowledged, paced.

A new local file survives a crash once its bytes and every directory entry
that leads to it are on the disk: ``fdatasync`` of the file (its bytes and
its size), then ``fsync`` of the directory that holds it and of each
directory in which a new directory was made for it
(:func:`entries_to_sync`, :func:`sync_directories`). The storage
(:mod:`~invenio_records_files_ext.storage.writes`) does both before it returns,
hence before any transaction records the file.

Writing hundreds of MiB and flushing them only at the end costs twice:
the flush then waits for the whole file, and the file's pages pile up in
the page cache, so every later upload writes into memory the kernel must
first find (on a virtual machine, memory the host must hand back, at
several microseconds a page: ``docs/performance.rst``). :class:`Writeback`
paces it instead: every :data:`WINDOW` bytes a thread writes what was
written since back to the disk (``sync_file_range`` where Linux has it:
no journal commit, no cache flush of the device; else ``fdatasync``)
while the loop goes on, then drops those pages from the cache; the next
window reuses the memory just freed. When the disk falls :data:`LAG`
windows behind, the loop waits for it, so that the cache held stays
small whatever the disk's speed. The final ``fdatasync`` (:meth:`Writeback.finish`)
has one window or so left to write, and flushes the device's cache.
"""

from __future__ import annotations

import ctypes
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional

WINDOW = 4 * 1024 * 1024
"""Bytes written between two flushes of a long write (:class:`Writeback`).

Large enough that each flush writes in big requests, small enough that a
worker holds little of the page cache and the last flush is short: what is
left to write back when the last byte arrives is a window or so, which
every request waits for before it answers. It was 16 MiB; at 4 MiB a part
of a multipart upload (each part waits) and a ``PUT`` were as fast or
faster, and the worker's peak memory grew by 11.9 MiB instead of 16.1 to
16.4 over the throughput benchmark (``benchmarks/rest_throughput.py``).
"""

LAG = 4
"""Windows the writing may run ahead of the disk before it waits."""

_sync_data: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def _range_writer() -> Optional[Callable[[int, int, int], None]]:
    """``sync_file_range(fd, offset, length)`` that waits, where libc has it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    # SYNC_FILE_RANGE_WAIT_BEFORE | _WRITE | _WAIT_AFTER: written back, clean.
    flags = 1 | 2 | 4

    def write_back(fd: int, offset: int, length: int) -> None:
        if call(fd, offset, length, flags) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return write_back


_write_back_range = _range_writer()


def write_back(fd: int, offset: int, length: int) -> None:
    """Write a range of a file back to the disk and wait (not a flush).

    The pages are clean afterwards and can be dropped; the device may
    still hold them in its cache until the next ``fdatasync``.
    """
    if _write_back_range is None:
        sync_data(fd)
    else:
        _write_back_range(fd, offset, length)


def sync_data(fd: int) -> None:
    """Flush a file's bytes, and the metadata needed to read them, to disk."""
    _sync_data(fd)


def drop_cached(fd: int, offset: int, length: int) -> None:
    """Let the kernel drop a flushed range of a file from the page cache."""
    if length > 0 and hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def entries_to_sync(path: str) -> list[str]:
    """Return the directories to flush once ``path`` has been created.

    Call it before the file and its missing directories are made: the
    file's directory (it gets a new entry), and the parent of every
    directory that does not exist yet (each gets one too).
    """
    directory = os.path.dirname(os.path.abspath(path))
    entries = [directory]
    while not os.path.isdir(directory):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        entries.append(parent)
        directory = parent
    return entries


def sync_directories(directories: list[str]) -> None:
    """``fsync`` each directory, so that the entries made in it survive a crash."""
    for directory in directories:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sync_file(path: str) -> None:
    """Flush an existing file's bytes and size to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        sync_data(fd)
    finally:
        os.close(fd)


class Writeback:
    """Paced flushing of one file written sequentially from ``start``.

    The write loop calls :meth:`advance` after each write and
    :meth:`finish` at the end; :meth:`close` (in a ``finally``) ends the
    flushing thread, which starts only once a write passes :data:`WINDOW`.
    A flush that fails raises from the next :meth:`advance` or from
    :meth:`finish`: the write fails rather than report bytes that may not
    be on disk.

    :param fd: the file's descriptor.
    :param start: where in the file the write began (a multipart part's
        offset).
    :param flush: called before each flush is started, to push what a
        buffered file object holds to the kernel.
    """

    def __init__(
        self,
        fd: int,
        start: int = 0,
        flush: Optional[Callable[[], Any]] = None,
        window: int = WINDOW,
    ) -> None:
        """Pace the flushing of ``fd``; nothing is flushed yet."""
        self.fd = fd
        self.start = start
        self.window = window
        self._flush = flush
        self._thread: Optional[ThreadPoolExecutor] = None
        self._running: Optional[Future[None]] = None
        self._asked = 0
        """Bytes (from ``start``) written when the last flush was started."""
        self._dropped = 0
        """Bytes (from ``start``) flushed and dropped from the cache."""

    def advance(self, written: int) -> None:
        """Note that ``written`` bytes (from ``start``) have been written."""
        if written - self._asked < self.window:
            return
        if self._running is not None:
            if not self._running.done() and written - self._asked < LAG * self.window:
                # The disk is a little behind: go on writing meanwhile.
                return
            # Done, or too far behind: wait, so the page cache held stays small.
            self._running.result()
        if self._flush is not None:
            self._flush()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="writeback"
            )
        self._asked = written
        self._running = self._thread.submit(self._sync_and_drop, written)

    def _sync_and_drop(self, upto: int) -> None:
        offset, length = self.start + self._dropped, upto - self._dropped
        write_back(self.fd, offset, length)
        # Those pages are clean now, and the upload never reads them again.
        drop_cached(self.fd, offset, length)
        self._dropped = upto

    def finish(self) -> None:
        """Flush everything written; return once it is on disk."""
        if self._running is not None:
            running, self._running = self._running, None
            running.result()
        if self._flush is not None:
            self._flush()
        sync_data(self.fd)

    def close(self) -> None:
        """End the flushing thread (after the flush it runs, if any)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)


__all__ = (
    "LAG",
    "WINDOW",
    "Writeback",
    "drop_cached",
    "entries_to_sync",
    "sync_data",
    "sync_directories",
    "sync_file",
    "write_back",
)
