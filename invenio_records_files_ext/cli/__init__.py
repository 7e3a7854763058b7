"""``flask records-files``: maintenance commands for records' files.

* ``attach RECORD PATH...`` stores local files and folders in a record,
  in committed batches; running it again resumes where it stopped.
  ``attach --bag PATH RECORD`` stores the payload of a BagIt bag (a
  folder or a zip file) once every manifest of it is verified.
* ``list RECORD`` prints a record's files (soft-deleted records too).
* ``verify RECORD`` / ``verify --all`` re-reads the bytes through the
  storage and compares them with the stored checksums.
* ``check RECORD...`` / ``check --all`` compares the file rows with the
  buckets' current versions; ``--repair`` brings them in step.
* ``lift-embargoes`` lifts every embargo whose day has come (the files
  become public, the record is stored, a signal is sent).
* ``fixity run`` / ``fixity report``: the fixity audit (:mod:`~invenio_records_files_ext.cli.fixity`).
* ``gc`` finds what nothing uses any more: buckets this package linked to
  a record and no record links any more, file instances no object points
  to, bytes in local storage folders that no file instance points to, and
  pending files abandoned for longer than ``--pending-age``. It only
  reports unless given ``--delete``.

A RECORD is a record's UUID, ``pid_type:pid_value`` (``recid:6``) or a
bare PID value of the default type (``--pid-type``, else
``RECORDS_FILES_CLI_DEFAULT_PID_TYPE``, else ``recid``). Messages name a
record as it was given (``recid:6`` for ``6`` too); the tab-separated
report lines give records' UUIDs.

The commands only parse arguments, call :mod:`invenio_records_files_ext.maintenance`
and print what it returns. The group is meant to be registered as the
``records-files`` entry of ``flask.commands``.

The other modules:

* ``fixity``: ``flask records-files fixity``: the fixity audit on the
  command line.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Optional, Union

import click
from flask import current_app
from flask.cli import AppGroup

from ..access.restrictions import parse_date
from ..db.sqlite import immediate_transactions
from ..errors import (
    InvalidOperationError,
    LocalPathError,
    RecordsFilesError,
    UnknownIdentifierError,
    describe,
)
from ..maintenance import attach as attaching
from ..maintenance import bag_ingest, embargoes, identifiers, localstorage
from ..maintenance import check as checking
from ..maintenance import gc as collecting
from ..maintenance import verify as verifying
from ..maintenance.records import load_record, record_files
from .fixity import fixity

PID_TYPE_KEY = "invenio_records_files_ext.pid_type"
"""Where the group's ``--pid-type`` is kept in the click context."""


class RecordIdParamType(click.ParamType):
    """A record on the command line: a UUID or a persistent identifier.

    Conversion only reads the value; the PID is looked up when the command
    runs (it needs the database).
    """

    name = "record"

    def convert(
        self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]
    ) -> Union[uuid.UUID, identifiers.RecordRef]:
        """Return a :class:`uuid.UUID`, or a record reference to resolve."""
        if isinstance(value, (uuid.UUID, identifiers.RecordRef)):
            return value
        text = str(value).strip()
        if not text:
            self.fail("A record id cannot be empty.", param, ctx)
        try:
            return uuid.UUID(text)
        except ValueError:
            return identifiers.RecordRef(text)


class DurationParamType(click.ParamType):
    """A duration: seconds, or a number followed by ``s``, ``m``, ``h``, ``d``."""

    name = "duration"
    _UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
    _PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")

    def convert(
        self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]
    ) -> float:
        """Return the duration in seconds (a float)."""
        if isinstance(value, (int, float)):
            return float(value)
        match = self._PATTERN.match(str(value).lower())
        if match is None:
            self.fail(
                "{0!r} is not a duration (for example 30, 90s, 15m, 2h, 1d).".format(
                    value
                ),
                param,
                ctx,
            )
        return float(match.group(1)) * self._UNITS[match.group(2)]


RECORD_ID = RecordIdParamType()
DURATION = DurationParamType()


@click.group("records-files", cls=AppGroup)
@click.option(
    "--pid-type",
    metavar="TYPE",
    default=None,
    help="PID type of bare record identifiers (default: the "
    "RECORDS_FILES_CLI_DEFAULT_PID_TYPE setting, else recid).",
)
@click.pass_context
def records_files(ctx: click.Context, pid_type: Optional[str]) -> None:
    """Maintain records' files: attach, list, verify, check, gc, lift embargoes.

    Records are named by UUID, by pid_type:pid_value (recid:6) or by a
    bare PID value of the default type.
    """
    ctx.meta[PID_TYPE_KEY] = pid_type


#
# Shared helpers
#
def _stderr() -> Any:
    # Progress bars go to stderr so that stdout holds only the report. Read
    # at call time: Click's test runner swaps sys.stderr.
    return sys.stderr


def _record_id(
    value: Union[uuid.UUID, identifiers.RecordRef],
) -> identifiers.NamedRecord:
    """Return the record a RECORD argument names, with that name (usage error if none)."""
    if isinstance(value, uuid.UUID):
        return identifiers.NamedRecord(value, str(value))
    ctx = click.get_current_context()
    try:
        return identifiers.resolve_named(value.value, ctx.meta.get(PID_TYPE_KEY))
    except UnknownIdentifierError as error:
        raise click.BadParameter(error.message, ctx=ctx, param_hint="RECORD") from None


@contextmanager
def _reported() -> Iterator[None]:
    """Turn the library's refusals into a message and exit status 1."""
    try:
        yield
    except (RecordsFilesError, InvalidOperationError) as error:
        raise click.ClickException(describe(error)) from None


def _plural(count: int, word: str) -> str:
    return "{0} {1}{2}".format(count, word, "" if count == 1 else "s")


#
# attach
#
@records_files.command("attach")
@click.argument("record_id", metavar="RECORD", type=RECORD_ID)
@click.argument(
    "paths",
    metavar="PATH...",
    nargs=-1,
    type=click.Path(exists=True, path_type=str),
)
@click.option(
    "--bag",
    metavar="PATH",
    default=None,
    type=click.Path(exists=True, path_type=str),
    help="A BagIt bag (folder or zip file): its payload is attached once "
    "every manifest is verified.",
)
@click.option(
    "--batch-size",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Files stored per transaction.",
)
@click.option(
    "--batch-bytes",
    default=1024**3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bytes stored per transaction (a larger file is a batch of its own).",
)
def attach(
    record_id: Union[uuid.UUID, identifiers.RecordRef],
    paths: tuple[str, ...],
    batch_size: int,
    batch_bytes: int,
    bag: Optional[str],
) -> None:
    """Attach local files and folders (recursively) to a record.

    A file is stored under its name; a folder's files under their path
    from the folder's parent (folder/sub/file.txt). A key the record
    already holds gets a new version, unless the stored file has the same
    size and checksum, in which case it is skipped: an interrupted run can
    simply be started again. Files are committed in batches.

    With --bag, the files are the payload of a BagIt bag, stored under
    their path in data/, once every manifest is verified: one wrong
    checksum or missing file attaches nothing. The bag's checksums are
    kept as the files' checksums.
    """
    if bag is not None and paths:
        raise click.UsageError("Give either --bag or paths, not both.")
    if bag is None and not paths:
        raise click.UsageError("Missing argument 'PATH...'.")
    click.get_current_context().with_resource(immediate_transactions())
    record = _record_id(record_id)
    if bag is not None:
        _attach_bag(record, bag, batch_size, batch_bytes)
        return
    with _reported():
        stored = attaching.stored_files(record)
    try:
        collected = attaching.collect(paths)
    except LocalPathError as error:
        raise click.BadParameter(error.message, param_hint="PATH") from None

    with click.progressbar(
        length=collected.size, label="Attaching", file=_stderr()
    ) as bar:
        with _reported():
            done = attaching.attach(
                record, collected.files, stored, batch_size, batch_bytes, bar.update
            )

    for path in collected.ignored:
        click.echo("Not a regular file or folder, ignored: {0}".format(path), err=True)
    click.echo(
        "Attached {0.attached} files ({0.attached_bytes} bytes); skipped "
        "{0.skipped} already attached ({0.skipped_bytes} bytes).".format(done)
    )


def _attach_bag(
    record: identifiers.NamedRecord, bag: str, batch_size: int, batch_bytes: int
) -> None:
    with _reported():
        # Every byte is read twice: once to verify, once to store.
        length = 2 * bag_ingest.payload_size(bag)
    with click.progressbar(
        length=length, label="Verifying and attaching", file=_stderr()
    ) as bar:
        with _reported():
            done = bag_ingest.ingest_bag(
                record, bag, batch_size, batch_bytes, bar.update
            )
    click.echo(
        "Verified {0} ({1}); attached {2.attached} files ({2.attached_bytes} "
        "bytes); skipped {2.skipped} already attached ({2.skipped_bytes} "
        "bytes).".format(
            _plural(done.files, "file"), ", ".join(done.algorithms), done.attached
        )
    )


#
# list
#
@records_files.command("list")
@click.argument("record_id", metavar="RECORD", type=RECORD_ID)
def list_files(record_id: Union[uuid.UUID, identifiers.RecordRef]) -> None:
    """List a record's files in order: key, size and checksum.

    Soft-deleted records are listed too, in the order they had.
    """
    named = _record_id(record_id)
    with _reported():
        record = load_record(named, allow_deleted=True)
        found = list(record_files(record, named))
    if record.model.is_deleted:
        click.echo(
            "Record {0} is deleted; its files are kept read-only.".format(named),
            err=True,
        )
    total = 0
    for fileobj in found:
        file = fileobj.obj.file
        total += file.size or 0
        click.echo("{0}\t{1}\t{2}".format(fileobj.key, file.size, file.checksum or "-"))
    click.echo("Total: {0} files, {1} bytes".format(len(found), total))


#
# verify
#
@records_files.command("verify")
@click.argument("record_id", metavar="[RECORD]", type=RECORD_ID, required=False)
@click.option("--all", "all_records", is_flag=True, help="Verify every record.")
@click.pass_context
def verify(
    ctx: click.Context,
    record_id: Optional[Union[uuid.UUID, identifiers.RecordRef]],
    all_records: bool,
) -> None:
    """Check that the stored bytes still match their checksums.

    Every current file of the record (or of every record with ``--all``) is
    read back through its storage. Each problem is printed on one line:
    record id, key and what is wrong. Exits with 1 if there is any problem.
    """
    if record_id is None and not all_records:
        raise click.UsageError("Give a RECORD_ID or --all.")
    if record_id is not None and all_records:
        raise click.UsageError("Give either a RECORD_ID or --all, not both.")
    with _reported():
        if record_id is None:  # then ``--all`` was given (checked above)
            plan = verifying.plan_all()
        else:
            plan = verifying.plan_record(_record_id(record_id))
    with click.progressbar(length=plan.size, label="Verifying", file=_stderr()) as bar:
        result = verifying.verify(plan, bar.update)
    for problem in result.problems:
        click.echo(
            "{0}\t{1}\t{2}".format(problem.record_id, problem.key, problem.description)
        )
    click.echo(
        "Verified {0} files ({1} bytes): {2}.".format(
            result.checked, result.size, _plural(len(result.problems), "problem")
        )
    )
    if result.problems:
        ctx.exit(1)


#
# check
#
@records_files.command("check")
@click.argument("record_ids", metavar="[RECORD...]", type=RECORD_ID, nargs=-1)
@click.option("--all", "all_records", is_flag=True, help="Check every record.")
@click.option(
    "--repair",
    is_flag=True,
    help="Bring the rows in step with the buckets, committing record by record.",
)
@click.pass_context
def check(
    ctx: click.Context,
    record_ids: tuple[Union[uuid.UUID, identifiers.RecordRef], ...],
    all_records: bool,
    repair: bool,
) -> None:
    """Compare records' file rows with their buckets' current versions.

    Prints one line per difference: record id, key and what differs
    (added: a current file without row; updated: a row naming another
    version, or with a stale size or MIME type; removed: a row without
    current file). With --repair the rows are changed to match, each record
    in a transaction of its own. Exits with 1 if differences were found and
    not repaired.
    """
    if repair:
        ctx.with_resource(immediate_transactions())
    if not record_ids and not all_records:
        raise click.UsageError("Give RECORD ids or --all.")
    if record_ids and all_records:
        raise click.UsageError("Give either RECORD ids or --all, not both.")
    names: dict[Any, identifiers.NamedRecord] = {}
    if all_records:
        groups: Iterable[list[checking.Link]] = checking.all_links()
    else:
        named = [_record_id(value) for value in record_ids]
        names = {record.id: record for record in named}
        groups = _named_links(named)
    summary, failures = checking.CheckSummary(), 0
    for links in groups:
        try:
            checks = checking.check_links(links, repair=repair)
        except Exception as error:
            failures += 1
            record_id = links[0].record_id
            click.echo(
                "Could not {0} record {1}: {2}".format(
                    "repair" if repair else "check",
                    names.get(record_id, record_id),
                    describe(error),
                )
            )
            continue
        summary.add(checks)
        for result in checks:
            _print_differences(result)
    _print_check_summary(summary, repair)
    if failures or (summary.differing and not repair):
        ctx.exit(1)


def _named_links(
    records: list[identifiers.NamedRecord],
) -> list[list[checking.Link]]:
    with _reported():
        found = [checking.links_of(record) for record in records]
    for record_id, links in zip(records, found):
        if not links:
            click.echo(
                "Record {0} has no bucket: nothing to check.".format(record_id),
                err=True,
            )
    return [links for links in found if links]


def _print_differences(result: checking.RecordCheck) -> None:
    for change, keys in (
        ("added", result.report.added),
        ("updated", result.report.updated),
        ("removed", result.report.removed),
    ):
        for key in keys:
            click.echo("{0}\t{1}\t{2}".format(result.record_id, key, change))


def _print_check_summary(summary: checking.CheckSummary, repair: bool) -> None:
    counts = "{0} added, {1} updated, {2} removed".format(
        summary.added, summary.updated, summary.removed
    )
    if repair:
        click.echo(
            "Checked {0}: repaired {1} ({2}).".format(
                _plural(summary.records, "record"), summary.differing, counts
            )
        )
    else:
        click.echo(
            "Checked {0}: {1} with differences ({2}).".format(
                _plural(summary.records, "record"), summary.differing, counts
            )
        )


#
# gc
#
class _Tally:
    """What a ``gc`` run found and how many steps failed."""

    def __init__(self) -> None:
        self.found = 0
        self.errors = 0


def _gc_buckets(
    dry_run: bool,
    include_unmarked: bool,
    state: localstorage.SweepState,
    tally: _Tally,
) -> None:
    unused = collecting.unused_buckets(include_unmarked=include_unmarked)
    for bucket in unused:
        click.echo(
            "Unused bucket {0.bucket_id}: {0.versions} object versions, {0.size} "
            "bytes ({0.reclaim} bytes used by no other bucket)".format(bucket)
        )
    click.echo(
        "Unused buckets: {0}, {1} bytes to reclaim.".format(
            len(unused), sum(bucket.reclaim for bucket in unused)
        )
    )
    tally.found += len(unused)
    if dry_run or not unused:
        return
    outcomes = collecting.delete_buckets([bucket.bucket_id for bucket in unused], state)
    for outcome in outcomes:
        if outcome.status == collecting.KEPT:
            click.echo("Bucket {0} is in use again: kept.".format(outcome.bucket_id))
        elif outcome.status == collecting.FAILED:
            tally.errors += 1
            click.echo(
                "Could not delete bucket {0}: {1}".format(
                    outcome.bucket_id, outcome.error
                )
            )
    click.echo(
        "Deleted {0} unused buckets.".format(
            sum(outcome.status == collecting.DELETED for outcome in outcomes)
        )
    )


def _gc_file_instances(
    dry_run: bool, state: localstorage.SweepState, tally: _Tally
) -> None:
    found = collecting.orphan_files()
    for orphan in found:
        click.echo(
            "Orphan file instance {0.file_id}: {0.size} bytes at {0.uri}".format(orphan)
        )
    click.echo(
        "Orphan file instances: {0}, {1} bytes.".format(
            len(found), sum(orphan.size or 0 for orphan in found)
        )
    )
    tally.found += len(found)
    if dry_run or not found:
        return
    deletion = collecting.delete_orphan_files(
        [orphan.file_id for orphan in found], state
    )
    for error in deletion.errors:
        tally.errors += 1
        click.echo("Could not delete file instances: {0}".format(error))
    click.echo("Deleted {0} orphan file instances.".format(deletion.removed))


def _gc_pending(dry_run: bool, max_age: float, tally: _Tally) -> None:
    found = collecting.abandoned_files(max_age)
    for item in found:
        click.echo(
            "Abandoned pending file {0.key!r} of bucket {0.bucket_id}: {0.type} "
            "transfer, state {0.state}, untouched since {0.updated} ({0.reserved} "
            "bytes reserved)".format(item)
        )
    click.echo("Abandoned pending files: {0}.".format(len(found)))
    tally.found += len(found)
    if dry_run or not found:
        return
    deletion = collecting.delete_abandoned(found, max_age)
    for error in deletion.errors:
        tally.errors += 1
        click.echo("Could not delete pending file {0}".format(error))
    click.echo("Deleted {0} abandoned pending files.".format(deletion.removed))


def _gc_uploads(dry_run: bool, max_age: float, tally: _Tally) -> None:
    found = collecting.abandoned_uploads(max_age)
    for item in found:
        click.echo(
            "Abandoned multipart upload {0.upload_id} of {0.key!r} in bucket "
            "{0.bucket_id}: untouched since {0.updated} ({0.reserved} bytes "
            "reserved)".format(item)
        )
    click.echo("Abandoned multipart uploads: {0}.".format(len(found)))
    tally.found += len(found)
    if dry_run or not found:
        return
    deletion = collecting.delete_abandoned_uploads(found, max_age)
    for error in deletion.errors:
        tally.errors += 1
        click.echo("Could not abort multipart upload {0}".format(error))
    click.echo("Aborted {0} abandoned multipart uploads.".format(deletion.removed))


def _print_stray(stray: localstorage.StrayFile) -> None:
    if stray.recent:
        click.echo(
            "Unreferenced bytes {0.path}: {0.size} bytes (recent, kept)".format(stray)
        )
        return
    click.echo("Unreferenced bytes {0.path}: {0.size} bytes".format(stray))
    if stray.error is not None:
        click.echo("Could not delete {0.path}: {0.error}".format(stray))


def _gc_bytes(
    dry_run: bool, min_age: float, state: localstorage.SweepState, tally: _Tally
) -> None:
    walkable = []
    for location in localstorage.locations():
        if location.skipped == "remote":
            click.echo(
                "Location {0.name!r} ({0.uri}) is not a local folder: byte scan "
                "skipped.".format(location)
            )
        elif location.skipped == "missing":
            click.echo(
                "Location {0.name!r}: folder {0.root} does not exist, byte scan "
                "skipped.".format(location)
            )
        else:
            walkable.append(location)
    if not walkable:
        return
    # Read after the rows were cleaned up, so their bytes are not counted
    # twice, and before walking, so the walk holds no transaction open.
    known = localstorage.referenced(
        [location.root for location in walkable if location.root is not None]
    )
    cutoff = time.time() - min_age
    for location in walkable:
        swept = localstorage.sweep(
            location, known, state, cutoff, not dry_run, _print_stray
        )
        click.echo(
            "Location {0.name!r} ({0.root}): {0.found} unreferenced files, "
            "{0.found_bytes} bytes; {0.kept} recent files ({0.kept_bytes} bytes) "
            "kept.".format(swept)
        )
        tally.found += swept.found
        tally.errors += swept.errors
        if not dry_run:
            click.echo(
                "Deleted {0.deleted} unreferenced files and {0.dirs} empty "
                "directories.".format(swept)
            )


@records_files.command("gc")
@click.option(
    "--dry-run/--delete",
    "dry_run",
    default=True,
    show_default=True,
    help="Only report (the default), or delete what is reported.",
)
@click.option(
    "--min-age",
    type=DURATION,
    default="1h",
    show_default=True,
    help="Keep unreferenced bytes younger than this: uploads in progress "
    "write bytes before their rows are committed. 0 disables it.",
)
@click.option(
    "--pending-age",
    type=DURATION,
    default=None,
    help="Pending files whose transfer, and multipart uploads that have not "
    "moved for longer than this are abandoned (default: "
    "RECORDS_FILES_PENDING_MAX_AGE, 7 days).",
)
@click.option(
    "--include-unmarked-buckets",
    is_flag=True,
    help="Also take buckets this package never linked to a record for "
    "unused. RISK: in a full Invenio site these include other modules' "
    "buckets (Files-REST's own, communities' logos, drafts of other "
    "record types...); with --delete they are deleted with their files. "
    "Only for databases where nothing else creates buckets.",
)
@click.pass_context
def gc(
    ctx: click.Context,
    dry_run: bool,
    min_age: float,
    pending_age: Optional[float],
    include_unmarked_buckets: bool,
) -> None:
    """Find, and with --delete remove, what nothing uses any more.

    Five kinds of garbage are looked for: pending files abandoned (announced
    and untouched for longer than --pending-age; removed with their bytes
    and quota reservation), multipart uploads (``?uploads``) untouched for
    as long (aborted, likewise), buckets this package linked to a record that no
    record links any more (removed with their objects and the bytes no
    other bucket uses), file instances no object version, multipart upload
    or pending file points to, and bytes in local storage folders that no
    file instance points to (left by aborted uploads; empty folders go with
    them). Buckets of other modules are left alone (see
    --include-unmarked-buckets).
    """
    if not dry_run:
        ctx.with_resource(immediate_transactions())
    state, tally = localstorage.SweepState(), _Tally()
    if pending_age is None:
        pending_age = float(current_app.config["RECORDS_FILES_PENDING_MAX_AGE"])
    _gc_pending(dry_run, pending_age, tally)
    _gc_uploads(dry_run, pending_age, tally)
    _gc_buckets(dry_run, include_unmarked_buckets, state, tally)
    _gc_file_instances(dry_run, state, tally)
    _gc_bytes(dry_run, min_age, state, tally)
    if dry_run and tally.found:
        click.echo("Dry run: nothing was deleted; run with --delete to remove it.")
    if tally.errors:
        ctx.exit(1)


#
# lift-embargoes
#
@records_files.command("lift-embargoes")
@click.option(
    "--today",
    metavar="YYYY-MM-DD",
    default=None,
    help="Lift the embargoes due on this day (default: today, UTC).",
)
@click.pass_context
def lift_embargoes(ctx: click.Context, today: Optional[str]) -> None:
    """Lift every embargo whose day has come: the files become public.

    Each record is stored and committed on its own; one that fails is
    reported and the command exits with 1 once the others are done.
    """
    with _reported():
        day = parse_date(today) if today else None
    ctx.with_resource(immediate_transactions())
    report = embargoes.lift_due_embargoes(day)
    for record_id in report.lifted:
        click.echo("Lifted\t{0}".format(record_id))
    for failure in report.failed:
        click.echo("Failed\t{0}\t{1}".format(failure.record_id, failure.error))
    click.echo(
        "{0} {1} lifted, {2} failed (embargoes due on {3}).".format(
            len(report.lifted),
            "embargo" if len(report.lifted) == 1 else "embargoes",
            len(report.failed),
            report.today.isoformat(),
        )
    )
    if report.failed:
        ctx.exit(1)


records_files.add_command(fixity)

__all__ = (
    "DurationParamType",
    "RecordIdParamType",
    "attach",
    "check",
    "gc",
    "lift_embargoes",
    "list_files",
    "records_files",
    "verify",
)
