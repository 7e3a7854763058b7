"""Several checksums of one stream, computed in parallel from the same bytes.

The write loop (:mod:`~invenio_records_files_ext.storage.writeloop`) reads each
chunk once and hands it to :meth:`Digests.update`: every hash object is fed
in a thread of its own, in order, while the loop writes the chunk and reads
the next one. CPython's hash functions release the GIL on buffers of more
than 2047 bytes, so with two algorithms (say MD5 and SHA-256) on two cores
an upload costs about the slower hash, not their sum. The first chunk is
hashed in the caller's thread: a stream that fits in one chunk (most files)
never starts a thread.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional


@dataclass
class Hashing:
    """The hashing of one chunk: done once :meth:`wait` returns."""

    futures: list[Future[None]] = field(default_factory=list)

    def wait(self) -> None:
        """Wait until every hash object has taken the chunk (re-raise errors)."""
        for future in self.futures:
            future.result()


DONE = Hashing()
"""The hashing of a chunk hashed in the caller's thread."""


class Digests:
    """Hash objects fed the same bytes, each in a thread of its own.

    :param hashes: algorithm name -> a fresh hash object (``hashlib``'s,
        or anything with ``update`` and ``hexdigest``); the first one is
        the file's checksum in Invenio-Files-REST (``"<algorithm>:<hex>"``).

    Use it as a context manager, or call :meth:`close`: its threads end
    there, after the chunks they hold.
    """

    def __init__(self, hashes: Mapping[str, Any]) -> None:
        """Hash with ``hashes``; no thread starts before the second chunk.

        With no hash object at all, :meth:`update` does nothing.
        """
        self.hashes = dict(hashes)
        self._threads: Optional[list[ThreadPoolExecutor]] = None

    def update(self, data: Any) -> Hashing:
        """Feed ``data`` (bytes or a memoryview) to every hash object.

        Returns at once, except for the first chunk: the caller must not
        change ``data`` before the returned :class:`Hashing` is waited for.
        """
        if not self.hashes:
            return DONE
        if self._threads is None:
            self._threads = []
            for digest in self.hashes.values():
                digest.update(data)
            return DONE
        if not self._threads:
            self._threads = [
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest")
                for _ in self.hashes
            ]
        return Hashing(
            [
                thread.submit(digest.update, data)
                for thread, digest in zip(self._threads, self.hashes.values())
            ]
        )

    def close(self) -> None:
        """End the threads, once they have hashed what they hold."""
        threads, self._threads = self._threads or [], None
        for thread in threads:
            thread.shutdown(wait=True)

    def __enter__(self) -> Digests:
        """Return itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """:meth:`close`."""
        self.close()

    def hexdigests(self) -> dict[str, str]:
        """Return algorithm -> hex digest (call once every chunk is hashed)."""
        return {name: digest.hexdigest() for name, digest in self.hashes.items()}

    def checksum(self) -> str:
        """Return the first algorithm's ``"<algorithm>:<hex digest>"``."""
        name, digest = next(iter(self.hashes.items()))
        return "{0}:{1}".format(name, digest.hexdigest())


__all__ = ("DONE", "Digests", "Hashing")
