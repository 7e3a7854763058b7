"""Reading one file back for the fixity audit, and what the read found.

* ``prepare()``: what reading a file needs (``Reading``), taken
  from the database beforehand.
* ``read_back()``: the bytes read once, outside any transaction, and
  compared with the stored checksums and size: an ``Outcome``
  (``PASSED``, ``MISMATCH`` or ``UNREADABLE``).
* ``read_digests()``: a stream's size and digests in one read.
* ``check_file()``: the three for one file instance.

Import these names from :mod:`~invenio_records_files_ext.maintenance.fixity`,
where they are documented (the three statuses are documented here).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance

from ..errors import describe
from ..storage.checksums import configured_algorithms, stored_checksums
from ..storage.digests import DONE, Digests
from ..storage.hashing import READ_SIZE

PASSED = "passed"
"""Outcome of a file whose bytes match every stored checksum and the size."""

MISMATCH = "mismatch"
"""Outcome of a file whose bytes differ (``last_check = False``)."""

UNREADABLE = "unreadable"
"""Outcome of a file that could not be verified (``last_check = None``)."""


@dataclass(frozen=True)
class Outcome:
    """What reading one file back found."""

    file_id: uuid.UUID
    uri: str
    status: str
    description: str = ""
    checksums: Mapping[str, str] = field(default_factory=dict)
    """Hex digests computed, by algorithm (empty when the read failed)."""
    added: tuple[str, ...] = ()
    """Algorithms computed that were not kept before (kept if it passed)."""
    size: int = 0
    """Bytes read."""

    @property
    def last_check(self) -> Optional[bool]:
        """The value for Files-REST's ``FileInstance.last_check``."""
        if self.status == PASSED:
            return True
        return False if self.status == MISMATCH else None

    @property
    def failed(self) -> bool:
        """Whether the file did not pass."""
        return self.status != PASSED


def _new_hash(algorithm: str) -> Any:
    return hashlib.new(algorithm, usedforsecurity=False)


def read_digests(
    fp: Any, algorithms: Iterable[str], advance: Optional[Callable[[int], None]] = None
) -> tuple[int, dict[str, str]]:
    """Read a stream to its end once; return its size and hex digests.

    The algorithms hash in threads of their own (:class:`~invenio_records_files_ext.storage.digests.Digests`),
    one chunk behind the read: at most two chunks are in memory.
    """
    read = 0
    with Digests({name: _new_hash(name) for name in algorithms}) as digests:
        pending = DONE
        for chunk in iter(lambda: fp.read(READ_SIZE), b""):
            pending.wait()
            pending = digests.update(chunk)
            read += len(chunk)
            if advance is not None:
                advance(len(chunk))
        pending.wait()
    return read, digests.hexdigests()


def _compare(
    file_id: uuid.UUID,
    uri: str,
    expected_size: Optional[int],
    stored: Mapping[str, str],
    size: int,
    computed: Mapping[str, str],
) -> Outcome:
    added = tuple(name for name in computed if name not in stored)
    if expected_size is not None and size != expected_size:
        return Outcome(
            file_id,
            uri,
            MISMATCH,
            "size mismatch: stored {0} bytes, read {1}".format(expected_size, size),
            computed,
            added,
            size,
        )
    wrong = [name for name in stored if computed.get(name) != stored[name].lower()]
    if wrong:
        return Outcome(
            file_id,
            uri,
            MISMATCH,
            "; ".join(
                "{0} mismatch: stored {1}, computed {2}".format(
                    name, stored[name], computed[name]
                )
                for name in wrong
            ),
            computed,
            added,
            size,
        )
    if not stored:
        return Outcome(
            file_id, uri, UNREADABLE, "no checksum stored", computed, added, size
        )
    return Outcome(file_id, uri, PASSED, "", computed, added, size)


@dataclass(frozen=True)
class Reading:
    """What reading one file back needs, taken from the database beforehand."""

    file_id: uuid.UUID
    uri: str
    size: Optional[int]
    stored: Mapping[str, str]
    algorithms: tuple[str, ...]
    storage: Any = None
    problem: str = ""
    """Why the file cannot be read, when known before reading."""


def prepare(fileinstance: FileInstance) -> Reading:
    """Take what reading ``fileinstance`` back needs (this may run SQL)."""
    stored = {
        name.lower(): value for name, value in stored_checksums(fileinstance).items()
    }
    unknown = [name for name in stored if name not in hashlib.algorithms_available]
    algorithms = [name for name in stored if name not in unknown]
    algorithms += [name for name in configured_algorithms() if name not in stored]
    fields = (fileinstance.id, fileinstance.uri, fileinstance.size, stored)
    if unknown:
        return Reading(
            *fields,
            (),
            problem="cannot compare: unsupported algorithm(s) {0}".format(
                ", ".join(unknown)
            ),
        )
    try:
        storage = fileinstance.storage()
    except Exception as error:
        return Reading(*fields, (), problem="no storage: " + describe(error))
    return Reading(*fields, tuple(algorithms), storage)


def read_back(
    reading: Reading, advance: Optional[Callable[[int], None]] = None
) -> Outcome:
    """Read the bytes once; compare them with the stored checksums and size.

    No SQL: call it outside any transaction.
    """
    file_id, uri = reading.file_id, reading.uri
    if reading.problem:
        return Outcome(file_id, uri, UNREADABLE, reading.problem)
    try:
        with reading.storage.open("rb") as fp:
            read, computed = read_digests(fp, reading.algorithms, advance)
    except FileNotFoundError:
        return Outcome(file_id, uri, UNREADABLE, "missing: no bytes at " + uri)
    except Exception as error:
        return Outcome(file_id, uri, UNREADABLE, "unreadable: " + describe(error))
    return _compare(file_id, uri, reading.size, reading.stored, read, computed)


def check_file(
    fileinstance: FileInstance, advance: Optional[Callable[[int], None]] = None
) -> Outcome:
    """Read one file's bytes back; compare them with every stored checksum.

    The read transaction ends before the bytes are read (a large file on
    slow storage holds no snapshot open). Nothing is written here.
    """
    reading = prepare(fileinstance)
    db.session.rollback()
    return read_back(reading, advance)


__all__ = (
    "MISMATCH",
    "PASSED",
    "UNREADABLE",
    "Outcome",
    "Reading",
    "check_file",
    "prepare",
    "read_back",
    "read_digests",
)
