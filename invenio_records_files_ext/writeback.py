"""Getting written bytes onto the disk: durable before acknowledged, paced.

A new local file survives a crash once its bytes and every directory entry
that leads to it are on the disk: ``fdatasync`` of the file (its bytes and
its size), then ``fsync`` of the directory that holds it and of each
directory in which a new directory was made for it
(:func:`entries_to_sync`, :func:`sync_directories`). The storage
(:mod:`~invenio_records_files_ext.storage`) does both before it returns,
hence before any transaction records the file.

Writing hundreds of MiB and flushing them only at the end costs twice:
the flush then waits for the whole file, and the file's pages pile up in
the page cache, so every later upload writes into memory the kernel must
first find (on a virtual machine, memory the host must hand back, at
several microseconds a page: ``docs/performance.rst``). :class:`Writeback`
paces it instead: every :data:`WINDOW` bytes a thread flushes what was
written so far while the loop goes on, then drops those pages from the
cache; the next window reuses the memory just freed, the disk works while
the bytes arrive, and the last flush has one window left to write.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional

WINDOW = 16 * 1024 * 1024
"""Bytes written between two flushes of a long write (:class:`Writeback`).

Large enough that each flush writes in big requests, small enough that a
worker holds little of the page cache and the last flush is short.
"""

_sync_data: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


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
            if not self._running.done():
                # The disk is behind: let it catch up rather than queue flushes.
                return
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
        sync_data(self.fd)
        # Only what was on disk before the flush began is dropped: those
        # pages are clean, and the upload never reads them again.
        drop_cached(self.fd, self.start + self._dropped, upto - self._dropped)
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
    "WINDOW",
    "Writeback",
    "drop_cached",
    "entries_to_sync",
    "sync_data",
    "sync_directories",
    "sync_file",
)
