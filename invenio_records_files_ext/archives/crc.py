"""CRC-32 (the zip format's checksum), as fast as the installed libraries allow.

The standard library's :func:`zlib.crc32` runs at about 1.5 GB/s on one
core, which caps the files archive below what a server sends with
``sendfile()``. ISA-L (``pip install isal``, the ``archives`` extra) or
zlib-ng compute the same value about three times faster; the first one
found is used.
"""

from __future__ import annotations

import zlib
from typing import Callable

Crc32 = Callable[..., int]


def _fastest() -> tuple[str, Crc32]:
    try:
        from isal import isal_zlib

        return "isal", isal_zlib.crc32
    except ImportError:
        pass
    try:
        from zlib_ng import zlib_ng

        return "zlib-ng", zlib_ng.crc32
    except ImportError:
        pass
    return "zlib", zlib.crc32


IMPLEMENTATION, crc32 = _fastest()
"""Name of the library computing :func:`crc32`, and the function:
``crc32(data, value=0)`` as :func:`zlib.crc32`."""

__all__ = ("IMPLEMENTATION", "crc32")
