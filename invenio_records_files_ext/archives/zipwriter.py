"""Writing a zip archive as a stream: no seeking, no temporary file.

:class:`ZipStreamWriter` turns members given as byte chunks into the bytes
of a zip archive, in order, as they come. Members are *stored* (not
compressed: the files of a repository are mostly compressed already, and
the archive then costs little more CPU than reading the files). Each
member's CRC-32 and size follow its data in a data descriptor, so nothing
is written twice; the central directory, kept as compact bytes (about 50
bytes plus the name per member), closes the archive.

Zip64 fields appear only where they are needed: members of 4 GiB or more,
members starting beyond 4 GiB, archives of more than 65,534 members or
whose central directory lies beyond 4 GiB. Names are UTF-8 (flag bit 11).

This module knows nothing of Invenio: see
:mod:`invenio_records_files_ext.archives.archive` for a record's files.

Why not the standard library's ``zipfile``, which also writes to a
stream that cannot seek: it writes into a file object, where a WSGI body
is an iterator of chunks, so each chunk would be written to a buffer and
read back; it cannot tell the archive's length before writing it
(:func:`archive_length` gives the ``Content-Length`` of the files
archive); and it is slower. Measured side by side (``python
benchmarks/zip_choice.py``): 2,000 stored members of 64 KiB to an
unseekable sink take ``zipfile`` 4.7 times as long.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Optional

from ..errors import ArchiveSizeError
from .crc import crc32

LIMIT_32 = 0xFFFFFFFF
"""Sizes and offsets from this value on need zip64 fields."""

LIMIT_16 = 0xFFFF
"""Member counts from this value on need zip64 end records."""

_FLAGS = 0x0008 | 0x0800  # data descriptor follows the data; UTF-8 names
_STORED = 0
_MADE_BY = (3 << 8) | 45  # Unix, version 4.5
_UNIX_FILE = (0o100644 & 0xFFFF) << 16


def dos_datetime(moment: Optional[datetime]) -> tuple[int, int]:
    """Return the MS-DOS (time, date) of ``moment`` (1980-01-01 if None)."""
    if moment is None:
        return 0, (0 << 9) | (1 << 5) | 1
    year = min(max(moment.year, 1980), 2107)
    date = ((year - 1980) << 9) | (moment.month << 5) | moment.day
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    return time, date


def _local_header(encoded: bytes, zip64: bool, time: int, date: int) -> bytes:
    """Return a member's local header, its name and its extra field."""
    extra = struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b""
    header = struct.pack(
        "<IHHHHHIIIHH",
        0x04034B50,
        45 if zip64 else 20,
        _FLAGS,
        _STORED,
        time,
        date,
        0,
        LIMIT_32 if zip64 else 0,
        LIMIT_32 if zip64 else 0,
        len(encoded),
        len(extra),
    )
    return header + encoded + extra


def _descriptor(crc: int, size: int, zip64: bool) -> bytes:
    """Return the data descriptor following a member's data."""
    if zip64:
        return struct.pack("<IIQQ", 0x08074B50, crc, size, size)
    return struct.pack("<IIII", 0x08074B50, crc, size, size)


def archive_length(
    members: Iterable[tuple[str, int]], zip64_from: int = LIMIT_32
) -> int:
    """Return the length of the archive of ``(name, size)`` members, in order.

    Exactly the number of bytes :class:`ZipStreamWriter` produces for them
    (see :meth:`ZipStreamWriter.account`); memory: the central directory.
    """
    writer = ZipStreamWriter(zip64_from=zip64_from)
    for name, size in members:
        writer.account(name, size)
    writer.finish()
    return writer.offset


class ZipStreamWriter:
    """Produce the bytes of a zip archive member by member.

    ``member()`` yields the bytes of one member (local header, data, data
    descriptor); ``finish()`` returns the central directory and end
    records. Concatenated, in that order, they form the archive.
    """

    def __init__(self, zip64_from: int = LIMIT_32) -> None:
        """Start an empty archive.

        :param zip64_from: sizes and offsets from which zip64 fields are
            used (lower it only to exercise them with small data).
        """
        self.zip64_from = min(zip64_from, LIMIT_32)
        self.offset = 0
        """Bytes produced so far."""
        self.count = 0
        """Members written so far."""
        self._central = bytearray()

    def member(
        self,
        name: str,
        chunks: Iterable[bytes],
        expected_size: int,
        modified: Optional[datetime] = None,
    ) -> Iterator[bytes]:
        """Yield the bytes of a member holding ``chunks`` under ``name``.

        :param expected_size: the number of bytes ``chunks`` yields; it
            decides whether the member needs zip64 fields.
        :raises ArchiveSizeError: when ``chunks`` yields another number of
            bytes (the archive written so far is then unusable).
        """
        encoded = name.encode("utf-8")
        start = self.offset
        time, date = dos_datetime(modified)
        zip64 = expected_size >= self.zip64_from
        header = _local_header(encoded, zip64, time, date)
        yield header
        self.offset += len(header)
        crc = 0
        size = 0
        for chunk in chunks:
            if not chunk:
                continue
            crc = crc32(chunk, crc)
            size += len(chunk)
            if size > expected_size:
                break
            yield chunk
        if size != expected_size:
            raise ArchiveSizeError(
                "The stored bytes of {0!r} are not the {1} bytes recorded.".format(
                    name, expected_size
                )
            )
        self.offset += size
        descriptor = _descriptor(crc, size, zip64)
        yield descriptor
        self.offset += len(descriptor)
        self._add_central(encoded, crc, size, start, time, date)

    def account(self, name: str, size: int) -> None:
        """Count a member of ``size`` bytes without producing it.

        A writer that is only given :meth:`account` calls, then
        :meth:`finish`, ends with :attr:`offset` at the exact length of the
        archive that :meth:`member` calls with the same names and sizes
        produce: the headers are built by the same code, only the data,
        the CRC-32 and the dates (fixed-size fields) differ.
        """
        encoded = name.encode("utf-8")
        start = self.offset
        zip64 = size >= self.zip64_from
        self.offset += len(_local_header(encoded, zip64, 0, 0))
        self.offset += size + len(_descriptor(0, size, zip64))
        self._add_central(encoded, 0, size, start, 0, 0)

    def _add_central(
        self, encoded: bytes, crc: int, size: int, start: int, time: int, date: int
    ) -> None:
        values = []
        big_size = size >= self.zip64_from
        big_start = start >= self.zip64_from
        if big_size:
            values += [size, size]
        if big_start:
            values.append(start)
        extra = b""
        if values:
            extra = struct.pack("<HH", 1, 8 * len(values)) + struct.pack(
                "<{0}Q".format(len(values)), *values
            )
        self._central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            _MADE_BY,
            45 if values else 20,
            _FLAGS,
            _STORED,
            time,
            date,
            crc,
            LIMIT_32 if big_size else size,
            LIMIT_32 if big_size else size,
            len(encoded),
            len(extra),
            0,
            0,
            0,
            _UNIX_FILE,
            LIMIT_32 if big_start else start,
        )
        self._central += encoded + extra
        self.count += 1

    def finish(self) -> bytes:
        """Return the central directory and the end records; nothing may follow."""
        start = self.offset
        size = len(self._central)
        tail, self._central = self._central, bytearray()
        zip64 = (
            self.count >= LIMIT_16
            or start >= self.zip64_from
            or size >= self.zip64_from
        )
        if zip64:
            record_at = start + size
            tail += struct.pack(
                "<IQHHIIQQQQ",
                0x06064B50,
                44,
                _MADE_BY,
                45,
                0,
                0,
                self.count,
                self.count,
                size,
                start,
            )
            tail += struct.pack("<IIQI", 0x07064B50, 0, record_at, 1)
        tail += struct.pack(
            "<IHHHHIIH",
            0x06054B50,
            0,
            0,
            LIMIT_16 if zip64 else self.count,
            LIMIT_16 if zip64 else self.count,
            LIMIT_32 if zip64 else size,
            LIMIT_32 if zip64 else start,
            0,
        )
        self.offset += len(tail)
        return bytes(tail)


__all__ = ("ZipStreamWriter", "archive_length", "dos_datetime")
