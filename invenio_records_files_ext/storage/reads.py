"""Reading stored bytes through the storage: in chunks, or at given offsets.

Whatever the storage backend (local files, S3 through invenio-s3...), the
bytes are read through ``FileInstance.storage().open("rb")``: sequentially
in chunks for the files archive, by seeking for zip browsing and metadata
extraction (on S3 a seek followed by a read is a ranged GET).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Optional

from invenio_files_rest.models import FileInstance


def storage_of(
    file_id: Any,
    uri: str,
    size: Optional[int],
    storage_class: Optional[str] = None,
    updated: Optional[datetime] = None,
) -> Any:
    """Return the storage of a file instance known by its columns.

    The file instance is built in memory only (never added to a session):
    readers that hold rows, not ORM objects, open bytes this way.
    """
    instance = FileInstance(
        id=file_id, uri=uri, size=size, storage_class=storage_class, updated=updated
    )
    return instance.storage()


def read_chunks(storage: Any, chunk_size: int) -> Iterator[bytes]:
    """Yield the stored bytes in chunks of at most ``chunk_size`` bytes."""
    fp = storage.open("rb")
    try:
        while True:
            chunk = fp.read(chunk_size)
            if not chunk:
                return
            yield chunk
    finally:
        fp.close()


class RandomAccess:
    """Read stored bytes at any offset, counting what was read.

    Use as a context manager; ``read_at()`` seeks, then reads.
    """

    def __init__(self, storage: Any, size: int) -> None:
        """Open the stored file of ``size`` bytes."""
        self.size = size
        """Size of the file in bytes."""
        self.bytes_read = 0
        """Bytes returned by :meth:`read_at` so far."""
        self._fp = storage.open("rb")

    def read_at(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset`` (fewer at the end)."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        self._fp.seek(offset)
        parts = []
        wanted = min(length, self.size - offset)
        while wanted > 0:
            data = self._fp.read(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        found = b"".join(parts)
        self.bytes_read += len(found)
        return found

    @property
    def requested_bytes(self) -> int:
        """Bytes asked of the storage backend so far, read-ahead included.

        Known for fsspec-based storages (S3 through s3fs); elsewhere the
        bytes returned (:attr:`bytes_read`).
        """
        cache = getattr(self._fp, "cache", None)
        requested = getattr(cache, "total_requested_bytes", None)
        return int(requested) if requested is not None else self.bytes_read

    def close(self) -> None:
        """Close the stored file."""
        self._fp.close()

    def __enter__(self) -> RandomAccess:
        """Return the reader."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close the stored file."""
        self.close()


__all__ = ("RandomAccess", "read_chunks", "storage_of")
