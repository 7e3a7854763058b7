"""``flask records-files gc``: finding, and with ``--delete`` removing, garbage.

In this order: abandoned pending files, abandoned multipart uploads,
unused buckets, orphan file instances, unreferenced bytes in local storage
folders. The command calls :mod:`invenio_records_files_ext.maintenance.gc`
and :mod:`~invenio_records_files_ext.maintenance.localstorage` and prints
what they return.
"""

from __future__ import annotations

import time
from typing import Optional

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db.sqlite import immediate_transactions
from ..maintenance import gc as collecting
from ..maintenance import localstorage
from .params import DURATION


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


@click.command("gc")
@with_appcontext
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


__all__ = ("gc",)
