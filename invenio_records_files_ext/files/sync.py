"""Keep a bucket's file rows in step with its object versions.

The library's writer changes rows and versions together. Object versions
can also change through code that knows nothing about records
(Invenio-Files-REST's model API, its multipart merge task, scripts). A
session listener notes the keys of every object version such code flushes
(:func:`install`, in the applications :func:`watch_application` names); before the next read of the bucket's files
(:func:`settle`) and before commit (:func:`reconcile`), the rows of those
keys are made to match the bucket's current versions:

* a new key gets a row at the end of the order;
* a replaced key keeps its row (position, metadata), which names the new
  version (a row whose copied size or MIME type is stale is refreshed too);
* a deleted key loses its row;
* a pending file's row is left alone: only its transfer completes or drops
  it (:mod:`~invenio_records_files_ext.files.pending`).

Only buckets linked to a record have rows. :func:`repair` does the same for
every key of a bucket, for data written before this library managed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import Flask, current_app, has_app_context
from invenio_db import db
from invenio_files_rest.models import ObjectVersion
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..db import ledger, locks, versions
from ..db.sql import chunks
from ..models import COMPLETED, FileEntry, RecordsBuckets
from . import queries, rows


@dataclass
class SyncReport:
    """What bringing rows in step changed (or, in a check, would change)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) changed."""
        return bool(self.added or self.updated or self.removed)

    def extend(self, other: SyncReport) -> None:
        """Add another report's findings to this one."""
        self.added.extend(other.added)
        self.updated.extend(other.updated)
        self.removed.extend(other.removed)


WATCH_KEY = "invenio-records-files-ext.watch"
"""Key in ``app.extensions`` of the applications whose sessions are watched."""


def watch_application(app: Flask) -> None:
    """Have object versions flushed in ``app``'s sessions noted (idempotent).

    The Flask extension does it in ``init_app``; the record API does it on
    first use in an application without the extension.
    """
    app.extensions[WATCH_KEY] = True


def watches(app: Flask) -> bool:
    """Tell whether the sessions of ``app`` are watched."""
    return WATCH_KEY in app.extensions


def _watched_here() -> bool:
    # A session has no application of its own: the one of the context it
    # flushes in decides. Other applications of the process (one without
    # this package's tables, say) are left alone.
    return has_app_context() and WATCH_KEY in current_app.extensions


def _watch(session: Session, flush_context: Any) -> None:
    # The session's collections still hold what was just flushed. Most
    # flushes hold no object version: nothing else runs for them.
    watched: Optional[bool] = None
    for collection in (session.new, session.dirty, session.deleted):
        for obj in collection:
            if not isinstance(obj, ObjectVersion) or obj.bucket_id is None:
                continue
            if watched is None:
                watched = _watched_here()
            if not watched:
                return
            ledger.touch(obj.bucket_id, obj.key, session)


def install() -> None:
    """Note the keys of object versions flushed by other code, in every session.

    The listener is on :class:`sqlalchemy.orm.Session` (idempotent); it
    notes keys only in applications :func:`watch_application` named.
    """
    if not event.contains(Session, "after_flush", _watch):
        event.listen(Session, "after_flush", _watch)


@dataclass
class _Plan:
    """What :func:`apply` changes: keys, each with its head and/or row."""

    added: list[tuple[str, Any]] = field(default_factory=list)
    removed: list[tuple[str, Any]] = field(default_factory=list)
    updated: list[tuple[str, Any, Any]] = field(default_factory=list)


def _differs(entry: Any, head: Any) -> bool:
    return bool(
        entry.version_id != head.version_id
        or entry.size != head.size
        or entry.mimetype != head.mimetype
    )


def _plan(keys: list[str], heads: dict[str, Any], stored: dict[str, Any]) -> _Plan:
    """Compare the rows with the current versions; change nothing."""
    plan = _Plan()
    for key in keys:
        head, entry = heads.get(key), stored.get(key)
        if entry is not None and entry.status != COMPLETED:
            # A pending file: its transfer completes (or drops) the row,
            # never a version written under its key by other code.
            continue
        if head is None:
            if entry is not None:
                plan.removed.append((key, entry))
        elif entry is None:
            plan.added.append((key, head))
        elif _differs(entry, head):
            plan.updated.append((key, entry, head))
    return plan


def apply(
    bucket_id: Any,
    keys: Iterable[str],
    session: Optional[Session] = None,
    dry_run: bool = False,
) -> SyncReport:
    """Make the rows of ``keys`` match the bucket's current versions."""
    session = session if session is not None else db.session()
    keys = sorted(set(keys))
    if not keys:
        return SyncReport()
    if not dry_run:
        locks.lock_keys(bucket_id, keys, session)
    plan = _plan(
        keys,
        versions.heads(bucket_id, keys, session),
        queries.stored_entries(bucket_id, keys, session),
    )
    report = SyncReport(
        added=[key for key, _ in plan.added],
        removed=[key for key, _ in plan.removed],
        updated=[key for key, _, _ in plan.updated],
    )
    if dry_run:
        return report
    if report.changed:
        changes = session.info.setdefault(CHANGES_KEY, {})
        changes[bucket_id] = changes.get(bucket_id, 0) + 1
    if plan.removed:
        rows.delete_rows([entry.id for _, entry in plan.removed], session)
    for _, entry, head in plan.updated:
        rows.point_to(
            entry.id,
            head.version_id,
            head.size,
            head.mimetype,
            session,
            status=COMPLETED,
        )
    if plan.added:
        position = queries.next_position(bucket_id, session)
        rows.insert_many(
            [
                rows.new_row(
                    bucket_id,
                    key,
                    position + offset,
                    head.version_id,
                    head.size,
                    head.mimetype,
                )
                for offset, (key, head) in enumerate(plan.added)
            ],
            session,
        )
    return report


CHANGES_KEY = "invenio_records_files_ext.synced"
"""Key in ``session.info``: bucket id -> how often :func:`apply` changed its rows."""


def changes_of(bucket_ids: Iterable[Any], session: Optional[Session] = None) -> int:
    """Apply other code's pending changes to these buckets; count the changes so far.

    The number grows each time this session brought the buckets' rows in
    step with other code's changes: an object that shows the rows (a
    record's ``_files``) reads them again when it differs from the number
    it saw.
    """
    session = session if session is not None else db.session()
    total = 0
    for bucket_id in bucket_ids:
        settle(bucket_id, session)
        total += session.info.get(CHANGES_KEY, {}).get(bucket_id, 0)
    return total


def linked_buckets(bucket_ids: Iterable[Any], session: Session) -> set[Any]:
    """Return which of these buckets are linked to a record."""
    linked: set[Any] = set()
    for chunk in chunks(list(bucket_ids)):
        linked.update(
            session.execute(
                select(RecordsBuckets.bucket_id).where(
                    RecordsBuckets.bucket_id.in_(chunk)
                )
            ).scalars()
        )
    return linked


def _apply_touched(session: Session, touched: dict[Any, set[str]]) -> None:
    if not touched:
        return
    for bucket_id in linked_buckets(touched, session):
        apply(bucket_id, touched[bucket_id], session)


def settle(bucket_id: Any, session: Optional[Session] = None) -> None:
    """Apply pending changes of other code to one bucket's rows, if any."""
    session = session if session is not None else db.session()
    state = session.info.get(ledger.STATE_KEY)
    if state is None or not state.touched:
        return
    session.flush()
    _apply_touched(session, ledger.take_touched(session, bucket_id))


def reconcile(session: Session, state: ledger.TransactionState) -> None:
    """Before-commit hook: apply every pending change of other code."""
    _apply_touched(session, ledger.take_touched(session))


def repair(
    bucket_id: Any, session: Optional[Session] = None, dry_run: bool = False
) -> SyncReport:
    """Bring every row of a bucket in step with its current versions.

    With ``dry_run`` nothing is written: the report says what would change.
    """
    session = session if session is not None else db.session()
    head_keys = versions.head_keys(bucket_id, session)
    row_keys = set(
        session.execute(
            select(FileEntry.key).where(
                FileEntry.bucket_id == bucket_id, FileEntry.status == COMPLETED
            )
        ).scalars()
    )
    report = SyncReport()
    for chunk in chunks(sorted(head_keys | row_keys)):
        report.extend(apply(bucket_id, chunk, session, dry_run=dry_run))
    return report
