"""``flask records-files check``: file rows compared with the buckets, ``--repair``.

The command calls :mod:`invenio_records_files_ext.maintenance.check` and
prints each difference and the summary it returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Union

import click
from flask.cli import with_appcontext

from ..db.sqlite import immediate_transactions
from ..errors import describe
from ..maintenance import check as checking
from ..maintenance import identifiers
from .output import plural, reported
from .params import RECORD_ID, resolve_record


@click.command("check")
@with_appcontext
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
        named = [resolve_record(value) for value in record_ids]
        names = {record.id: record for record in named}
        groups = _named_links(named)
    summary, failures = checking.CheckSummary(), 0
    for outcome in checking.check_records(groups, repair=repair):
        if outcome.error is not None:
            failures += 1
            click.echo(
                "Could not {0} record {1}: {2}".format(
                    "repair" if repair else "check",
                    names.get(outcome.record_id, outcome.record_id),
                    describe(outcome.error),
                )
            )
            continue
        summary.add(outcome.checks)
        for result in outcome.checks:
            _print_differences(result)
    _print_check_summary(summary, repair)
    if failures or (summary.differing and not repair):
        ctx.exit(1)


def _named_links(
    records: list[identifiers.NamedRecord],
) -> list[list[checking.Link]]:
    with reported():
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
                plural(summary.records, "record"), summary.differing, counts
            )
        )
    else:
        click.echo(
            "Checked {0}: {1} with differences ({2}).".format(
                plural(summary.records, "record"), summary.differing, counts
            )
        )


__all__ = ("check",)
