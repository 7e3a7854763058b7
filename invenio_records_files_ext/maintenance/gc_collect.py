"""One garbage collection run: the steps of :mod:`.gc` and :mod:`.localstorage`.

:func:`collect` looks for, and with ``delete`` removes, in this order:

#. pending files abandoned (:func:`.gc.abandoned_files`);
#. multipart uploads abandoned (:func:`.gc.abandoned_uploads`);
#. buckets no record links (:func:`.gc.unused_buckets`);
#. file instances nothing points to (:func:`.gc.orphan_files`);
#. bytes in local storage folders no file instance points to
   (:func:`.localstorage.sweep`).

The order matters: each removal leaves the next steps' garbage behind (an
unused bucket's file instances, an aborted upload's bytes), which they then
find in the same run. The paths file instances use are read once the rows
were cleaned up, so that the bytes of rows just removed are not counted
twice, and before the folders are walked, so that no transaction stays
open during the walk. What each step finds and does is reported as it
happens to an optional callback (see :data:`GcEvent`), and returned in a
:class:`GcReport`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Generic, Optional, TypeVar, Union

from ..db.sqlite import immediate_transactions
from ..settings.current import current
from . import gc as collecting
from . import localstorage
from .gc import (
    AbandonedFile,
    AbandonedUpload,
    BucketOutcome,
    OrphanDeletion,
    OrphanFile,
    UnusedBucket,
)
from .localstorage import LocalLocation, StrayFile, Sweep, SweepState

MIN_AGE = 3600.0
"""Default :attr:`GcOptions.min_age`: one hour, in seconds."""

Item = TypeVar("Item")


@dataclass(frozen=True)
class GcOptions:
    """What a :func:`collect` run does, and which garbage it takes."""

    delete: bool = False
    """Remove what is found; by default (a dry run) only report it."""

    min_age: float = MIN_AGE
    """Seconds: unreferenced bytes modified more recently are kept, since
    uploads in progress write bytes before their rows are committed. 0
    takes them all."""

    pending_age: Optional[float] = None
    """Seconds: pending files and multipart uploads that have not moved for
    longer are abandoned. ``None`` reads ``RECORDS_FILES_PENDING_MAX_AGE``."""

    include_unmarked_buckets: bool = False
    """Also take buckets this package never linked to a record for unused
    (other modules' buckets among them: see :func:`.gc.unused_buckets`)."""


@dataclass
class RowStep(Generic[Item]):
    """A step over rows: what it found and, with ``delete``, removed."""

    found: list[Item]
    """The candidates, oldest first."""

    deletion: Optional[OrphanDeletion] = None
    """What removing them did; ``None`` if nothing was removed (a dry run,
    or nothing found)."""

    @property
    def removed(self) -> int:
        """How many candidates were removed."""
        return 0 if self.deletion is None else self.deletion.removed

    @property
    def errors(self) -> list[str]:
        """Why removals failed, one message each."""
        return [] if self.deletion is None else list(self.deletion.errors)


class PendingStep(RowStep[AbandonedFile]):
    """Step 1: abandoned pending files, removed with their bytes and reservation."""


class UploadStep(RowStep[AbandonedUpload]):
    """Step 2: abandoned multipart uploads of Files-REST's protocol, aborted."""


class OrphanStep(RowStep[OrphanFile]):
    """Step 4: file instances nothing points to, removed with their bytes."""


@dataclass
class BucketStep:
    """Step 3: buckets no record links, removed with what only they use."""

    found: list[UnusedBucket]
    """The unused buckets, oldest first."""

    outcomes: Optional[list[BucketOutcome]] = None
    """What became of each, in order; ``None`` if nothing was removed (a
    dry run, or nothing found)."""

    @property
    def removed(self) -> int:
        """How many buckets were removed."""
        return sum(
            outcome.status == collecting.DELETED for outcome in self.outcomes or ()
        )

    @property
    def errors(self) -> list[str]:
        """Why removals failed, one message each."""
        return [
            "{0}: {1}".format(outcome.bucket_id, outcome.error)
            for outcome in self.outcomes or ()
            if outcome.status == collecting.FAILED
        ]


@dataclass
class BytesStep:
    """Step 5: bytes in local storage folders no file instance points to."""

    skipped: list[LocalLocation] = field(default_factory=list)
    """Locations not walked (:attr:`.localstorage.LocalLocation.skipped` says why)."""

    sweeps: list[Sweep] = field(default_factory=list)
    """What walking each other location found and did, by location name."""

    @property
    def found(self) -> int:
        """Unreferenced files old enough to go."""
        return sum(swept.found for swept in self.sweeps)

    @property
    def errors(self) -> int:
        """Unreferenced files that could not be deleted."""
        return sum(swept.errors for swept in self.sweeps)


GcStep = Union[PendingStep, UploadStep, BucketStep, OrphanStep]
"""The report of one of the steps over rows."""


@dataclass(frozen=True)
class Listed:
    """A step listed its candidates; nothing of them is removed yet."""

    step: GcStep
    """The step's report, its candidates in :attr:`~RowStep.found`."""


@dataclass(frozen=True)
class Removed:
    """A step removed (``delete``, and something found) what it listed."""

    step: GcStep
    """The step's report, what removing did in it."""


GcEvent = Union[Listed, Removed, LocalLocation, StrayFile, Sweep]
"""What :func:`collect` reports as it goes, in this order for each step:

* the steps over rows: :class:`Listed`, then (with ``delete``, when
  something was found) :class:`Removed`;
* the bytes: each :class:`.localstorage.LocalLocation` skipped, then for
  each walked location every :class:`.localstorage.StrayFile` found and
  the location's :class:`.localstorage.Sweep`.
"""

Progress = Callable[[GcEvent], None]
"""A callback told each :data:`GcEvent`."""


@dataclass
class GcReport:
    """What a :func:`collect` run found and did, step by step."""

    options: GcOptions
    """What the run was asked to do."""

    pending_age: float
    """Seconds a pending file or upload had to be untouched to be abandoned."""

    pending: PendingStep
    """Step 1: abandoned pending files."""

    uploads: UploadStep
    """Step 2: abandoned multipart uploads."""

    buckets: BucketStep
    """Step 3: unused buckets."""

    orphans: OrphanStep
    """Step 4: orphan file instances."""

    bytes: BytesStep
    """Step 5: unreferenced bytes in local storage folders."""

    @property
    def found(self) -> int:
        """Everything found, every step together (recent bytes not counted)."""
        rows = (self.pending, self.uploads, self.buckets, self.orphans)
        return sum(len(step.found) for step in rows) + self.bytes.found

    @property
    def errors(self) -> int:
        """How many removals failed, every step together."""
        rows = (self.pending, self.uploads, self.buckets, self.orphans)
        return sum(len(step.errors) for step in rows) + self.bytes.errors


def _ignore(event: GcEvent) -> None:
    """Report nothing."""


def _pending(options: GcOptions, max_age: float, progress: Progress) -> PendingStep:
    step = PendingStep(collecting.abandoned_files(max_age))
    progress(Listed(step))
    if options.delete and step.found:
        step.deletion = collecting.delete_abandoned(step.found, max_age)
        progress(Removed(step))
    return step


def _uploads(options: GcOptions, max_age: float, progress: Progress) -> UploadStep:
    step = UploadStep(collecting.abandoned_uploads(max_age))
    progress(Listed(step))
    if options.delete and step.found:
        step.deletion = collecting.delete_abandoned_uploads(step.found, max_age)
        progress(Removed(step))
    return step


def _buckets(options: GcOptions, state: SweepState, progress: Progress) -> BucketStep:
    step = BucketStep(
        collecting.unused_buckets(include_unmarked=options.include_unmarked_buckets)
    )
    progress(Listed(step))
    if options.delete and step.found:
        step.outcomes = collecting.delete_buckets(
            [bucket.bucket_id for bucket in step.found], state
        )
        progress(Removed(step))
    return step


def _orphans(options: GcOptions, state: SweepState, progress: Progress) -> OrphanStep:
    step = OrphanStep(collecting.orphan_files())
    progress(Listed(step))
    if options.delete and step.found:
        step.deletion = collecting.delete_orphan_files(
            [orphan.file_id for orphan in step.found], state
        )
        progress(Removed(step))
    return step


def _bytes(options: GcOptions, state: SweepState, progress: Progress) -> BytesStep:
    step = BytesStep()
    walkable = []
    for location in localstorage.locations():
        if location.skipped is None:
            walkable.append(location)
        else:
            step.skipped.append(location)
            progress(location)
    if not walkable:
        return step
    # Read after the rows were cleaned up, so their bytes are not counted
    # twice, and before walking, so the walk holds no transaction open.
    known = localstorage.referenced(
        [location.root for location in walkable if location.root is not None]
    )
    cutoff = time.time() - options.min_age
    for location in walkable:
        swept = localstorage.sweep(
            location, known, state, cutoff, options.delete, progress
        )
        step.sweeps.append(swept)
        progress(swept)
    return step


def collect(
    options: Optional[GcOptions] = None, progress: Optional[Progress] = None
) -> GcReport:
    """Find, and with ``options.delete`` remove, what nothing uses any more.

    Runs the five steps in order (see the module's docstring), each removal
    committed on its own; with ``delete`` on SQLite, transactions begin as
    writers (:func:`~invenio_records_files_ext.db.sqlite.immediate_transactions`).
    Needs an application context.

    :param options: what to do; by default a dry run with the default ages.
    :param progress: told each :data:`GcEvent` as it happens.
    :returns: what each step found and did.
    """
    options = options or GcOptions()
    tell = progress or _ignore
    pending_age = options.pending_age
    if pending_age is None:
        pending_age = current().transfers.pending_max_age
    writing: AbstractContextManager[None] = (
        immediate_transactions() if options.delete else nullcontext()
    )
    state = SweepState()
    with writing:
        pending = _pending(options, pending_age, tell)
        uploads = _uploads(options, pending_age, tell)
        buckets = _buckets(options, state, tell)
        orphans = _orphans(options, state, tell)
        swept = _bytes(options, state, tell)
    return GcReport(options, pending_age, pending, uploads, buckets, orphans, swept)


__all__ = (
    "collect",
    "GcOptions",
    "MIN_AGE",
    "GcReport",
    "RowStep",
    "PendingStep",
    "UploadStep",
    "BucketStep",
    "OrphanStep",
    "BytesStep",
    "GcStep",
    "GcEvent",
    "Listed",
    "Removed",
    "Progress",
)
