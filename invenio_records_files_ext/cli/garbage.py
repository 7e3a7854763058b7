"""``flask records-files gc``: finding, and with ``--delete`` removing, garbage.

In this order: abandoned pending files, abandoned multipart uploads,
unused buckets, orphan file instances, unreferenced bytes in local storage
folders. The command calls
:func:`invenio_records_files_ext.maintenance.gc_collect.collect` and prints
what it reports.
"""

from __future__ import annotations

from typing import Optional

import click
from flask.cli import with_appcontext

from ..maintenance import gc as collecting
from ..maintenance import gc_collect
from ..maintenance.localstorage import LocalLocation, StrayFile, Sweep
from .params import DURATION


def _listed_buckets(step: gc_collect.BucketStep) -> None:
    for bucket in step.found:
        click.echo(
            "Unused bucket {0.bucket_id}: {0.versions} object versions, {0.size} "
            "bytes ({0.reclaim} bytes used by no other bucket)".format(bucket)
        )
    click.echo(
        "Unused buckets: {0}, {1} bytes to reclaim.".format(
            len(step.found), sum(bucket.reclaim for bucket in step.found)
        )
    )


def _removed_buckets(step: gc_collect.BucketStep) -> None:
    for outcome in step.outcomes or ():
        if outcome.status == collecting.KEPT:
            click.echo("Bucket {0} is in use again: kept.".format(outcome.bucket_id))
        elif outcome.status == collecting.FAILED:
            click.echo(
                "Could not delete bucket {0}: {1}".format(
                    outcome.bucket_id, outcome.error
                )
            )
    click.echo("Deleted {0} unused buckets.".format(step.removed))


def _listed_orphans(step: gc_collect.OrphanStep) -> None:
    for orphan in step.found:
        click.echo(
            "Orphan file instance {0.file_id}: {0.size} bytes at {0.uri}".format(orphan)
        )
    click.echo(
        "Orphan file instances: {0}, {1} bytes.".format(
            len(step.found), sum(orphan.size or 0 for orphan in step.found)
        )
    )


def _removed_orphans(step: gc_collect.OrphanStep) -> None:
    for error in step.errors:
        click.echo("Could not delete file instances: {0}".format(error))
    click.echo("Deleted {0} orphan file instances.".format(step.removed))


def _listed_pending(step: gc_collect.PendingStep) -> None:
    for item in step.found:
        click.echo(
            "Abandoned pending file {0.key!r} of bucket {0.bucket_id}: {0.type} "
            "transfer, state {0.state}, untouched since {0.updated} ({0.reserved} "
            "bytes reserved)".format(item)
        )
    click.echo("Abandoned pending files: {0}.".format(len(step.found)))


def _removed_pending(step: gc_collect.PendingStep) -> None:
    for error in step.errors:
        click.echo("Could not delete pending file {0}".format(error))
    click.echo("Deleted {0} abandoned pending files.".format(step.removed))


def _listed_uploads(step: gc_collect.UploadStep) -> None:
    for item in step.found:
        click.echo(
            "Abandoned multipart upload {0.upload_id} of {0.key!r} in bucket "
            "{0.bucket_id}: untouched since {0.updated} ({0.reserved} bytes "
            "reserved)".format(item)
        )
    click.echo("Abandoned multipart uploads: {0}.".format(len(step.found)))


def _removed_uploads(step: gc_collect.UploadStep) -> None:
    for error in step.errors:
        click.echo("Could not abort multipart upload {0}".format(error))
    click.echo("Aborted {0} abandoned multipart uploads.".format(step.removed))


def _skipped(location: LocalLocation) -> None:
    if location.skipped == "remote":
        click.echo(
            "Location {0.name!r} ({0.uri}) is not a local folder: byte scan "
            "skipped.".format(location)
        )
    else:
        click.echo(
            "Location {0.name!r}: folder {0.root} does not exist, byte scan "
            "skipped.".format(location)
        )


def _stray(stray: StrayFile) -> None:
    if stray.recent:
        click.echo(
            "Unreferenced bytes {0.path}: {0.size} bytes (recent, kept)".format(stray)
        )
        return
    click.echo("Unreferenced bytes {0.path}: {0.size} bytes".format(stray))
    if stray.error is not None:
        click.echo("Could not delete {0.path}: {0.error}".format(stray))


def _swept(swept: Sweep, delete: bool) -> None:
    click.echo(
        "Location {0.name!r} ({0.root}): {0.found} unreferenced files, "
        "{0.found_bytes} bytes; {0.kept} recent files ({0.kept_bytes} bytes) "
        "kept.".format(swept)
    )
    if delete:
        click.echo(
            "Deleted {0.deleted} unreferenced files and {0.dirs} empty "
            "directories.".format(swept)
        )


def _printer(delete: bool) -> gc_collect.Progress:
    """Return the callback printing what :func:`gc_collect.collect` reports."""

    def show(event: gc_collect.GcEvent) -> None:
        if isinstance(event, (gc_collect.Listed, gc_collect.Removed)):
            listed = isinstance(event, gc_collect.Listed)
            step = event.step
            if isinstance(step, gc_collect.PendingStep):
                (_listed_pending if listed else _removed_pending)(step)
            elif isinstance(step, gc_collect.UploadStep):
                (_listed_uploads if listed else _removed_uploads)(step)
            elif isinstance(step, gc_collect.BucketStep):
                (_listed_buckets if listed else _removed_buckets)(step)
            else:
                (_listed_orphans if listed else _removed_orphans)(step)
        elif isinstance(event, LocalLocation):
            _skipped(event)
        elif isinstance(event, StrayFile):
            _stray(event)
        else:
            _swept(event, delete)

    return show


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
    options = gc_collect.GcOptions(
        delete=not dry_run,
        min_age=min_age,
        pending_age=pending_age,
        include_unmarked_buckets=include_unmarked_buckets,
    )
    report = gc_collect.collect(options, _printer(not dry_run))
    if dry_run and report.found:
        click.echo("Dry run: nothing was deleted; run with --delete to remove it.")
    if report.errors:
        ctx.exit(1)


__all__ = ("gc",)
