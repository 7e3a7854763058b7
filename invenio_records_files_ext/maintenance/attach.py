"""Attaching local files and folders to a record, in committed batches.

A file is stored under its name; a folder's files under their path from
the folder's parent (``folder/sub/file.txt``). A key the record already
holds gets a new version unless the stored file has the same size and
checksum, in which case it is skipped: an interrupted run is resumed by
starting it again. Each batch is one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from invenio_db import db

from ..db.keys import validate_key
from ..errors import (
    AttachStoppedError,
    InvalidFileKeyError,
    InvalidOperationError,
    LocalPathError,
    describe,
)
from ..storage import hashing
from .identifiers import RecordId
from .records import load_record, record_files

Advance = Callable[[int], None]
"""Progress callback: called with the number of bytes just handled."""

Opener = Callable[[], Any]
"""Opens a file's bytes for reading (a binary file object)."""


@dataclass(frozen=True)
class LocalFile:
    """A local file and the key it is stored under."""

    key: str
    path: str
    size: int
    opener: Optional[Opener] = field(default=None, compare=False)
    """Opens the bytes when they are not the file at ``path`` (a zip member)."""


@dataclass
class Collected:
    """What the given paths hold."""

    files: list[LocalFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Paths that are neither regular files nor folders (or linked folders)."""

    @property
    def size(self) -> int:
        """Total bytes of the files."""
        return sum(item.size for item in self.files)


@dataclass(frozen=True)
class StoredFile:
    """Size and checksum of a file the record already holds."""

    size: Optional[int]
    checksum: Optional[str]


@dataclass
class AttachResult:
    """Counts of an attach run."""

    attached: int = 0
    attached_bytes: int = 0
    skipped: int = 0
    skipped_bytes: int = 0


class _Collector:
    def __init__(self) -> None:
        self.found = Collected()
        self.owner: dict[str, str] = {}

    def add(self, key: str, path: str) -> None:
        try:
            # The normalised key is the one stored: two paths spelling one
            # key differently (NFC and NFD) must collide here, not later.
            key = validate_key(key)
        except InvalidFileKeyError as error:
            raise LocalPathError("{0}: {1}".format(path, error.message)) from error
        if key in self.owner:
            raise LocalPathError(
                "{0} and {1} would both be stored as {2!r}.".format(
                    self.owner[key], path, key
                )
            )
        self.owner[key] = path
        try:
            size = os.path.getsize(path)
        except OSError as error:
            raise LocalPathError(
                "{0}: {1}".format(path, error.strerror or error)
            ) from error
        self.found.files.append(LocalFile(key, path, size))

    def folder(self, absolute: str) -> None:
        parent = os.path.dirname(absolute)
        for dirpath, dirnames, filenames in os.walk(absolute):
            # Linked folders are not followed: they may loop, or lead far
            # outside what was asked for.
            self.found.ignored.extend(
                os.path.join(dirpath, name)
                for name in dirnames
                if os.path.islink(os.path.join(dirpath, name))
            )
            # Sorted so that files are appended to the record in a
            # predictable order, the same on every run.
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if not os.path.isfile(path):
                    # Sockets, FIFOs, dangling links: reading them would
                    # block or fail.
                    self.found.ignored.append(path)
                    continue
                self.add(os.path.relpath(path, parent).replace(os.sep, "/"), path)


def collect(paths: Iterable[str]) -> Collected:
    """Return the files the paths name, with their keys.

    :raises invenio_records_files_ext.errors.LocalPathError: a path is
        neither a file nor a folder, gives an invalid key, or two paths
        would be stored under one key.
    """
    collector = _Collector()
    for given in paths:
        absolute = os.path.abspath(given)
        if os.path.isdir(absolute):
            collector.folder(absolute)
        elif os.path.isfile(absolute):
            collector.add(os.path.basename(absolute), absolute)
        else:
            raise LocalPathError(
                "{0!r} is neither a regular file nor a directory.".format(given)
            )
    return collector.found


def stored_files(record_id: RecordId) -> dict[str, StoredFile]:
    """Return the record's current files by key, checking it may be written.

    The read transaction is ended before returning: hashing local files may
    take long and must not hold a database snapshot open.

    :raises invenio_records_files_ext.errors.RecordsFilesError: unknown
        or deleted record, or a record without bucket.
    :raises invenio_files_rest.errors.InvalidOperationError: its files are
        locked.
    """
    files = record_files(load_record(record_id), record_id)
    if files.locked:
        db.session.rollback()
        raise InvalidOperationError(
            description="The files of record {0} are locked.".format(record_id)
        )
    found = {
        fileobj.key: StoredFile(fileobj.obj.file.size, fileobj.obj.file.checksum)
        for fileobj in files
    }
    db.session.rollback()
    return found


class ProgressFile:
    """A local file opened on its first read, reporting progress.

    ``files.update()`` receives a whole batch of streams at once; opening
    them lazily keeps a single descriptor open whatever the batch size.
    """

    def __init__(
        self, path: str, advance: Advance, opener: Optional[Opener] = None
    ) -> None:
        """Remember the path (or how to open the bytes); nothing is opened yet."""
        self.path = path
        self.advance = advance
        self.opener = opener
        self._fp: Any = None
        self._done = False

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes and report them."""
        if self._done:
            return b""
        if self._fp is None:
            self._fp = self.opener() if self.opener else open(self.path, "rb")
        chunk: bytes = self._fp.read(size)
        if chunk:
            self.advance(len(chunk))
        else:
            self.close()
        return chunk

    def close(self) -> None:
        """Close the file; later reads return nothing."""
        self._done = True
        if self._fp is not None:
            self._fp.close()
            self._fp = None


BeforeCommit = Callable[[Any, Sequence[LocalFile]], None]
"""Called with the record's files view and a stored batch, before its commit:
it may add to the batch's transaction, or raise to undo the batch."""


def store_batch(
    files: Any,
    batch: Sequence[LocalFile],
    advance: Advance,
    before_commit: Optional[BeforeCommit] = None,
) -> None:
    """Store a batch of files through a record's files view, and commit.

    :raises Exception: whatever storing (or ``before_commit``) raised;
        nothing of the batch stays.
    """
    streams = [
        (item.key, ProgressFile(item.path, advance, item.opener)) for item in batch
    ]
    try:
        files.update(streams)
        if before_commit is not None:
            before_commit(files, batch)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        for _, stream in streams:
            stream.close()


def _already_stored(item: LocalFile, stored: dict[str, StoredFile]) -> bool:
    known = stored.get(item.key)
    if known is None:
        return False
    return hashing.file_matches(item.path, item.size, known.size, known.checksum)


def attach(
    record_id: RecordId,
    files: Sequence[LocalFile],
    stored: dict[str, StoredFile],
    batch_size: int,
    batch_bytes: int,
    advance: Advance,
    before_commit: Optional[BeforeCommit] = None,
) -> AttachResult:
    """Store the files not already stored, in committed batches.

    A batch closes at ``batch_size`` files or ``batch_bytes`` bytes (a larger
    file is a batch of its own). ``before_commit`` (see :data:`BeforeCommit`)
    runs in each batch's transaction.

    :raises invenio_records_files_ext.errors.AttachStoppedError: a file
        could not be read or a batch could not be stored; the batches
        committed before stay.
    :raises invenio_records_files_ext.errors.RecordsFilesError: the record
        can no longer be written.
    """
    result = AttachResult()
    batch: list[LocalFile] = []
    pending = 0

    def stopped(error: BaseException) -> AttachStoppedError:
        return AttachStoppedError(
            describe(error), result.attached, result.skipped, len(batch)
        )

    def flush() -> None:
        nonlocal batch, pending
        # A fresh record for every batch: after a commit another writer may
        # have changed the record's files.
        files = record_files(load_record(record_id), record_id)
        try:
            store_batch(files, batch, advance, before_commit)
        except Exception as error:
            raise stopped(error) from error
        result.attached += len(batch)
        result.attached_bytes += pending
        batch, pending = [], 0

    for item in files:
        try:
            same = _already_stored(item, stored)
        except OSError as error:
            raise stopped(error) from error
        if same:
            result.skipped += 1
            result.skipped_bytes += item.size
            advance(item.size)
            continue
        batch.append(item)
        pending += item.size
        if len(batch) >= batch_size or pending >= batch_bytes:
            flush()
    if batch:
        flush()
    return result
