"""What a metadata processor is, and the bounded file it reads."""

from __future__ import annotations

import os
import time
from typing import Any, Optional

from ..errors import ProcessorLimitError


def out_of_time(timeout: float) -> str:
    """Return the error recorded for a processor that took too long."""
    return "Gave up after {0:g} seconds.".format(timeout)


class BoundedFile:
    """A stored file, readable and seekable, within a read budget and a deadline.

    Offers what parsers expect of a binary file (``read``, ``seek``,
    ``tell``) and ``read_at`` (:mod:`~invenio_records_files_ext.archives.zipreader`).
    Every read past the budget, or after the deadline, raises
    :class:`~invenio_records_files_ext.errors.ProcessorLimitError`: a
    processor stuck on a hostile file stops at its next read.
    """

    def __init__(self, source: Any, max_read: int, timeout: float) -> None:
        """Wrap ``source`` (a :class:`~invenio_records_files_ext.storage.reads.RandomAccess`).

        :param max_read: bytes the processor may read in all.
        :param timeout: seconds from now after which reads are refused.
        """
        self._source = source
        self.size = source.size
        self._position = 0
        self._budget = max_read
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout

    def _charge(self, length: int) -> None:
        if time.monotonic() > self._deadline:
            raise ProcessorLimitError(out_of_time(self._timeout))
        self._budget -= length
        if self._budget < 0:
            raise ProcessorLimitError("The processor read more than it may.")

    def read_at(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset``."""
        length = max(0, min(length, self.size - offset))
        self._charge(length)
        return bytes(self._source.read_at(offset, length))

    def read(self, size: int = -1) -> bytes:
        """Read from the current position."""
        if size is None or size < 0:
            size = self.size - self._position
        data = self.read_at(self._position, size)
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}
        self._position = max(0, base[whence] + offset)
        return self._position

    def tell(self) -> int:
        """Return the position."""
        return self._position

    def seekable(self) -> bool:
        """Always true."""
        return True

    def readable(self) -> bool:
        """Always true."""
        return True


class Processor:
    """Extracts metadata from one kind of file.

    Subclasses set ``name`` (the key of their results under
    ``_extracted``), and implement :meth:`accepts` and :meth:`process`.
    """

    name = "processor"

    def accepts(self, key: str, mimetype: Optional[str]) -> bool:
        """Whether the processor applies to a file of this key and MIME type."""
        raise NotImplementedError

    def process(self, file: BoundedFile) -> dict[str, Any]:
        """Return what the file says (JSON values), or raise to record an error."""
        raise NotImplementedError


__all__ = ("BoundedFile", "Processor", "out_of_time")
