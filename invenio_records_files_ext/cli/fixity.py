"""``flask records-files fixity``: the fixity audit on the command line.

* ``fixity run`` checks, now, every file due (``--all``: every audited
  file, however recently checked), as the Celery task does, sharing the
  work with running workers; it prints each failure and exits with 1 if
  any.
* ``fixity report`` prints the audit's state: counts per location, then
  every failed file per record; it exits with 1 when any file failed.

The commands only parse arguments, call
:mod:`invenio_records_files_ext.maintenance.fixity` and
:mod:`~invenio_records_files_ext.maintenance.fixity_report`, and print
what they return.
"""

from __future__ import annotations

from typing import Optional

import click
from flask.cli import with_appcontext

from ..maintenance import fixity as auditing
from ..maintenance.fixity_report import build_report


@click.group("fixity")
def fixity() -> None:
    """The fixity audit: check stored bytes now, or report what failed."""


def _print_outcome(outcome: auditing.Outcome) -> None:
    if outcome.failed:
        click.echo(
            "{0}\t{1}\t{2}\t{3}".format(
                outcome.status, outcome.file_id, outcome.uri, outcome.description
            )
        )


@fixity.command("run")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Check every audited file, not only those due.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=None,
    help="Files claimed at a time (default RECORDS_FILES_FIXITY_BATCH).",
)
@click.option(
    "--max-batches",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many batches (default: when nothing is due).",
)
@with_appcontext
@click.pass_context
def run(
    ctx: click.Context,
    everything: bool,
    batch: Optional[int],
    max_batches: Optional[int],
) -> None:
    """Check due files now; print each failure (status, file, URI, what).

    Exits with 1 if any file failed.
    """
    summary = auditing.run_audit(
        max_batches=max_batches,
        everything=everything,
        batch=batch,
        on_outcome=_print_outcome,
    )
    click.echo(
        "Checked {0} files ({1} bytes) in {2} batches: {3} passed, {4} failed, "
        "{5} gained checksums.".format(
            summary.checked,
            summary.size,
            summary.batches,
            summary.passed,
            summary.failed,
            summary.completed,
        )
    )
    if summary.failed:
        ctx.exit(1)


@fixity.command("report")
@with_appcontext
@click.pass_context
def report(ctx: click.Context) -> None:
    """Print the audit's state per location and the failed files per record.

    Exits with 1 if any audited file failed its last check.
    """
    found = build_report()
    click.echo(
        "Fixity audit: {0} files, checked every {1} days; {2} failed, {3} due, "
        "{4} never checked; oldest check {5}.".format(
            found.files,
            round(found.interval.total_seconds() / 86400, 2),
            found.failed,
            found.due,
            found.never_checked,
            found.oldest_check.isoformat() if found.oldest_check else "-",
        )
    )
    click.echo("location\tfiles\tfailed\tdue")
    for tally in found.locations:
        click.echo("{0.location}\t{0.files}\t{0.failed}\t{0.due}".format(tally))
    current = None
    for failure in found.failures:
        if failure.record_id != current:
            current = failure.record_id
            click.echo("record {0}".format(current))
        click.echo(
            "\t{0.status}\t{0.key}\t{0.version_id}{1}\t{0.location}\t{2}\t{0.file_id}".format(
                failure,
                " (current)" if failure.is_head else "",
                failure.last_check_at.isoformat() if failure.last_check_at else "-",
            )
        )
    if found.failed:
        ctx.exit(1)


__all__ = ("fixity", "report", "run")
