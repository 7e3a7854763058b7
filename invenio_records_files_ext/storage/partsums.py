"""The checksums of a multipart upload, computed while its parts are written.

A multipart upload's file checksums (its MD5, its SHA-256...) cover the
whole file, which exists only once every part is in: computed at the
commit, they cost a second read of every byte. Parts usually come in
order, through one worker: this module keeps, per local file and per
process, the hash objects of the file's bytes from its start, and each
part written right after what they hold is fed to them too, in the same
read (the write loop's threads). The commit then hashes only what they do
not hold yet (nothing, when every part came in order through this
process) instead of the whole file.

What is kept is trusted only while nothing else wrote to the file: each
write through this process records the file's ``(inode, size, mtime,
ctime)`` after it; a write from elsewhere (another worker) changes them,
and the hashes are dropped. A part written again over bytes already
hashed drops them too, as does a failed part (its bytes were fed to
copies, kept only on success). Whatever is dropped, the commit reads the
file again: the result is the same, only slower. At most :data:`LIMIT`
uploads are followed per process.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Optional

LIMIT = 8
"""Uploads whose running hashes a process keeps (the least recent go first)."""

Stamp = tuple[int, int, int, int]


def stamp_of(fd_or_path: Any) -> Stamp:
    """``(inode, size, mtime ns, ctime ns)`` of an open file or a path."""
    found = os.fstat(fd_or_path) if isinstance(fd_or_path, int) else os.stat(fd_or_path)
    return (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


@dataclass
class Running:
    """The hashes of a file's bytes from its start, up to ``offset``."""

    algorithms: tuple[str, ...]
    hashes: dict[str, Any]
    """Algorithm -> hash object, fed bytes ``[0, offset)``."""
    offset: int = 0
    stamp: Optional[Stamp] = None
    """The file after the last write this process made to it."""
    busy: bool = False
    """A part is being fed to copies of :attr:`hashes`."""


@dataclass
class Feeding:
    """One part being written: where, and the copies it feeds (if any)."""

    path: str
    start: int
    hashes: dict[str, Any] = field(default_factory=dict)
    """Copies of the running hashes, fed this part; empty: not fed."""


_lock = threading.Lock()
_running: OrderedDict[str, Running] = OrderedDict()


def begin(
    path: str, fd: int, start: int, new_hashes: Any, algorithms: tuple[str, ...]
) -> Feeding:
    """Note that a part of ``path`` is written from ``start`` through ``fd``.

    :param new_hashes: makes fresh hash objects for ``algorithms`` when the
        part is the file's first (``start == 0``).
    :returns: a :class:`Feeding`, whose ``hashes`` the caller feeds the
        part's bytes to (none when the part does not follow the hashed
        bytes); pass it to :func:`end`.
    """
    feeding = Feeding(path, start)
    with _lock:
        state = _running.get(path)
        if state is not None and (
            state.busy or start < state.offset or state.stamp != stamp_of(fd)
        ):
            # Written meanwhile by someone else, concurrently, or over
            # bytes already hashed: what the hashes hold may be wrong.
            del _running[path]
            state = None
        if state is None and start == 0:
            state = Running(algorithms, new_hashes())
            _running[path] = state
            while len(_running) > LIMIT:
                _running.popitem(last=False)
        if state is None:
            return feeding
        _running.move_to_end(path)
        if start == state.offset:
            state.busy = True
            feeding.hashes = {name: h.copy() for name, h in state.hashes.items()}
    return feeding


def end(feeding: Feeding, fd: Optional[int], written: Optional[int]) -> None:
    """Note how the part's write ended: ``written`` bytes, or failed (``None``).

    Call it once the bytes are in the file (flushed to the kernel), while
    ``fd`` is still open.
    """
    with _lock:
        state = _running.get(feeding.path)
        if state is None:
            return
        if written is None or fd is None:
            del _running[feeding.path]
            return
        if feeding.hashes:
            state.hashes = feeding.hashes
            state.offset = feeding.start + written
            state.busy = False
        state.stamp = stamp_of(fd)


def take(path: str, algorithms: tuple[str, ...]) -> Optional[Running]:
    """Hand over (and forget) the running hashes of ``path``, if still true.

    ``None`` when there are none, when they miss one of ``algorithms``,
    or when the file changed since this process last wrote to it.
    """
    with _lock:
        state = _running.pop(path, None)
    if state is None or state.busy or not set(algorithms) <= set(state.algorithms):
        return None
    try:
        if state.stamp != stamp_of(path):
            return None
    except OSError:
        return None
    return state


def forget(path: str) -> None:
    """Drop the running hashes of ``path`` (its upload is over)."""
    with _lock:
        _running.pop(path, None)


__all__ = ("LIMIT", "Feeding", "Running", "begin", "end", "forget", "take")
