"""``flask records-files lift-embargoes``: every embargo whose day has come.

The command calls :mod:`invenio_records_files_ext.maintenance.embargoes`
and prints what was lifted and what failed.
"""

from __future__ import annotations

from typing import Optional

import click
from flask.cli import with_appcontext

from ..access.restrictions import parse_date
from ..db.sqlite import immediate_transactions
from ..maintenance import embargoes
from .output import reported


@click.command("lift-embargoes")
@with_appcontext
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
    with reported():
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


__all__ = ("lift_embargoes",)
