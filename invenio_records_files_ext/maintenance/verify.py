"""Reading stored bytes back and comparing them with their checksums."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance, ObjectVersion
from sqlalchemy import func

from ..db import versions
from ..errors import describe
from ..models import REMOTE_STORAGE_CLASS, RecordsBuckets
from ..storage.hashing import StoredChecksum, digest_stream
from .identifiers import RecordId
from .records import load_record, record_files

Advance = Callable[[int], None]

ALL_RECORDS_SLICE = 500
"""Rows fetched at a time when verifying every record."""


@dataclass(frozen=True)
class VerifyItem:
    """One current file to read back."""

    record_id: Any
    key: str
    file: FileInstance


@dataclass
class VerifyPlan:
    """What a verification will read: counts first, items lazily."""

    count: int
    size: int
    items: Iterable[VerifyItem]


@dataclass(frozen=True)
class Problem:
    """A file whose bytes are not what was stored."""

    record_id: Any
    key: str
    description: str


@dataclass
class VerifyResult:
    """What a verification found."""

    checked: int = 0
    size: int = 0
    problems: list[Problem] = field(default_factory=list)


def plan_record(record_id: RecordId) -> VerifyPlan:
    """Plan reading back one record's current files (soft-deleted too).

    :raises invenio_records_files_ext.errors.RecordsFilesError: unknown
        record, or a record without bucket.
    """
    record = load_record(record_id, allow_deleted=True)
    items = [
        VerifyItem(record.id, fileobj.key, fileobj.obj.file)
        for fileobj in record_files(record, record_id)
    ]
    return VerifyPlan(len(items), sum(item.file.size or 0 for item in items), items)


def _linked_heads(*columns: Any) -> Any:
    return versions.current_files(*columns).join(
        RecordsBuckets, RecordsBuckets.bucket_id == ObjectVersion.bucket_id
    )


def plan_all() -> VerifyPlan:
    """Plan reading back the current files of every record with a bucket.

    Rows arrive in slices: memory does not grow with the database.
    """
    count, size = db.session.execute(
        _linked_heads(func.count(), func.coalesce(func.sum(FileInstance.size), 0))
    ).one()
    rows = db.session.execute(
        _linked_heads(RecordsBuckets.record_id, ObjectVersion.key, FileInstance)
        .order_by(RecordsBuckets.record_id, ObjectVersion.key)
        .execution_options(yield_per=ALL_RECORDS_SLICE)
    )
    items = (VerifyItem(*row) for row in rows)
    return VerifyPlan(int(count), int(size), items)


def check_bytes(fileinstance: FileInstance, advance: Advance) -> Optional[str]:
    """Re-read a file's bytes; return a description of the problem, or None.

    Remote files (a reference to a URL, no bytes stored) have nothing to read.
    """
    if fileinstance.storage_class == REMOTE_STORAGE_CLASS:
        advance(fileinstance.size or 0)
        return None
    if not fileinstance.uri:
        return "no bytes: the file instance has no URI"
    stored = StoredChecksum.parse(fileinstance.checksum)
    digest = stored.new() if stored is not None else None
    read = 0

    def counted(nbytes: int) -> None:
        nonlocal read
        read += nbytes
        advance(nbytes)

    try:
        with fileinstance.storage().open("rb") as fp:
            digest_stream(fp, digest, counted)
    except FileNotFoundError:
        return "missing: no bytes at {0}".format(fileinstance.uri)
    except Exception as error:
        return "unreadable: {0}".format(describe(error))
    finally:
        # Keep a progress total right when fewer bytes than expected came.
        advance(max((fileinstance.size or 0) - read, 0))
    if fileinstance.size is not None and read != fileinstance.size:
        return "size mismatch: stored {0} bytes, read {1}".format(
            fileinstance.size, read
        )
    if stored is None or digest is None:
        return "cannot compare: unsupported or missing checksum {0!r}".format(
            fileinstance.checksum
        )
    actual = digest.hexdigest()
    if actual != stored.hexdigest:
        return "checksum mismatch: stored {0}, computed {1}:{2}".format(
            fileinstance.checksum, digest.name, actual
        )
    return None


def verify(plan: VerifyPlan, advance: Advance) -> VerifyResult:
    """Read back every file of a plan; the read transaction ends after."""
    result = VerifyResult(size=plan.size)
    try:
        for item in plan.items:
            result.checked += 1
            problem = check_bytes(item.file, advance)
            if problem is not None:
                result.problems.append(Problem(item.record_id, item.key, problem))
    finally:
        db.session.rollback()
    return result
