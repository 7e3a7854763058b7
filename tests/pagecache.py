"""What the kernel's page cache holds of a file, and dropping it (Linux).

``cachestat()`` (Linux 6.5) counts a file's pages in the page cache, the
dirty ones (not on disk yet) and those being written back: a file whose
bytes are on disk has neither. ``drop_caches`` (root) empties the page
cache of every clean page, so that what is read next comes from the disk.
"""

import ctypes
import errno
import os
from dataclasses import dataclass

import pytest

SYS_CACHESTAT = 451  # the same number on every architecture


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [
        ("nr_cache", ctypes.c_uint64),
        ("nr_dirty", ctypes.c_uint64),
        ("nr_writeback", ctypes.c_uint64),
        ("nr_evicted", ctypes.c_uint64),
        ("nr_recently_evicted", ctypes.c_uint64),
    ]


@dataclass(frozen=True)
class CacheStat:
    """Pages of a file: cached, dirty, under writeback."""

    cached: int
    dirty: int
    writeback: int

    @property
    def on_disk(self) -> bool:
        """Whether every byte written to the file has reached the disk."""
        return self.dirty == 0 and self.writeback == 0


_libc = ctypes.CDLL(None, use_errno=True)


def cachestat(path: "str | os.PathLike[str]") -> CacheStat:
    """Return the :class:`CacheStat` of the file at ``path``.

    Skips the test where the kernel has no ``cachestat()``.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        whole, stat = _Range(0, 0), _Stat()
        if _libc.syscall(SYS_CACHESTAT, fd, ctypes.byref(whole), ctypes.byref(stat), 0):
            code = ctypes.get_errno()
            if code in (errno.ENOSYS, errno.EPERM):
                pytest.skip("cachestat() is not available (Linux 6.5 or later)")
            raise OSError(code, os.strerror(code), path)
        return CacheStat(stat.nr_cache, stat.nr_dirty, stat.nr_writeback)
    finally:
        os.close(fd)


def drop_caches() -> None:
    """Empty the page cache (clean pages); skip the test where not allowed."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fp:
            fp.write("3\n")
    except OSError as error:
        pytest.skip(
            "Dropping the page cache needs root (echo 3 > "
            "/proc/sys/vm/drop_caches): {0}".format(error)
        )
