"""Browsing inside a record's zip files: list the members, extract one.

The archive is never read whole: its central directory is read with ranged
reads through the storage (:class:`~invenio_records_files_ext.storage.reads.RandomAccess`;
on S3 a seek and a read are a ranged GET), and extracting a member reads
its local header and data only (:mod:`~invenio_records_files_ext.archives.zipreader`).

The table of contents is cached per object version (a version's bytes
never change) in each process, bounded by
``RECORDS_FILES_CONTAINER_CACHE_BYTES`` bytes of memory in all (each
member counted with its name, :meth:`~invenio_records_files_ext.archives.zipreader.Directory.memory`),
least recently used first out.

Limits come from the configuration (``RECORDS_FILES_CONTAINER_MAX_*``):
archives with too many members, too large a directory or too long a member
name answer 413, members too large 413, members expanding more than the
ratio allowed (zip bombs) and damaged archives 400; remote files (bytes
kept elsewhere) 400. Listings come a page at a time
(:mod:`~invenio_records_files_ext.archives.member_pages`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import MemberNotFoundError, RemoteContainerError
from ..models import REMOTE_STORAGE_CLASS
from ..settings.current import current
from ..storage.reads import RandomAccess
from .zipreader import Directory, Limits, Member, open_member, read_directory


def limits() -> Limits:
    """Return the limits set by the configuration."""
    return current().containers.limits


class DirectoryCache:
    """Tables of contents by object version id, bounded by their memory in all."""

    def __init__(self) -> None:
        """Start empty."""
        self._entries: OrderedDict[str, tuple[Directory, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, version_id: Any) -> Optional[Directory]:
        """Return the cached directory of a version, or ``None``."""
        with self._lock:
            found = self._entries.get(str(version_id))
            if found is None:
                return None
            self._entries.move_to_end(str(version_id))
            return found[0]

    def put(self, version_id: Any, directory: Directory, budget: int) -> None:
        """Keep ``directory``, dropping the least recently used beyond ``budget`` bytes."""
        weight = directory.memory()
        if weight > budget:
            return
        with self._lock:
            previous = self._entries.pop(str(version_id), None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[str(version_id)] = (directory, weight)
            self._bytes += weight
            while self._bytes > budget:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def memory(self) -> int:
        """Return the bytes of memory the directories kept hold (about)."""
        return self._bytes

    def __len__(self) -> int:
        """Return the number of directories kept."""
        return len(self._entries)


cache = DirectoryCache()
"""The process's cache of tables of contents."""


@dataclass(frozen=True)
class Extraction:
    """A member about to be extracted: its entry, then its bytes."""

    member: Member
    chunks: Generator[bytes, None, None]


def _reader(obj: Any) -> RandomAccess:
    file = obj.file
    return RandomAccess(file.storage(), int(file.size or 0))


def directory_of(obj: Any) -> Directory:
    """Return the table of contents of the zip file of an object version.

    :raises invenio_records_files_ext.errors.ContainerError: not a zip
        archive, or a damaged one (400).
    :raises invenio_records_files_ext.errors.ContainerTooLargeError: beyond
        the configured limits (413).
    :raises invenio_records_files_ext.errors.RemoteContainerError: a
        remote file (400).
    """
    found = cache.get(obj.version_id)
    if found is not None:
        return found
    _refuse_remote(obj)
    with _reader(obj) as source:
        directory = read_directory(source, limits())
    budget = current().containers.cache_bytes
    cache.put(obj.version_id, directory, budget)
    return directory


def _refuse_remote(obj: Any) -> None:
    file = obj.file
    if file is not None and file.storage_class == REMOTE_STORAGE_CLASS:
        raise RemoteContainerError(
            "{0!r} is a remote file: its bytes are kept elsewhere and are not "
            "browsed here.".format(obj.key)
        )


def extract(obj: Any, name: str) -> Extraction:
    """Check member ``name`` of an object version's zip file; prepare its bytes.

    The checks (size, ratio, encryption, method) and the member's local
    header are done before this returns; the bytes are read as
    ``chunks`` is iterated (the stored file stays open until then).

    :raises invenio_records_files_ext.errors.MemberNotFoundError: no such
        member (404).
    """
    member = directory_of(obj).find(name)
    if member is None:
        raise MemberNotFoundError("The zip archive has no member {0!r}.".format(name))
    source = _reader(obj)
    try:
        chunks = open_member(source, member, limits())
    except BaseException:
        source.close()
        raise
    return Extraction(member, _closing(chunks, source))


def _closing(
    chunks: Iterator[bytes], source: RandomAccess
) -> Generator[bytes, None, None]:
    try:
        yield from chunks
    finally:
        source.close()


def describe_members(members: Iterable[Member]) -> list[dict[str, Any]]:
    """Return members as JSON-ready entries (name, sizes, CRC, folder)."""
    return [
        {
            "key": member.name,
            "size": member.size,
            "compressed_size": member.compressed_size,
            "checksum": "crc32:{0:08x}".format(member.crc),
            "is_dir": member.is_dir,
        }
        for member in members
    ]


__all__ = (
    "DirectoryCache",
    "Extraction",
    "cache",
    "describe_members",
    "directory_of",
    "extract",
    "limits",
)
