"""``flask records-files verify``: stored bytes read back against their checksums.

The command calls :mod:`invenio_records_files_ext.maintenance.verify` and
prints each problem it returns.
"""

from __future__ import annotations

import uuid
from typing import Optional, Union

import click
from flask.cli import with_appcontext

from ..maintenance import identifiers
from ..maintenance import verify as verifying
from .output import plural, reported, stderr
from .params import RECORD_ID, resolve_record


@click.command("verify")
@with_appcontext
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
    with reported():
        if record_id is None:  # then ``--all`` was given (checked above)
            plan = verifying.plan_all()
        else:
            plan = verifying.plan_record(resolve_record(record_id))
    with click.progressbar(length=plan.size, label="Verifying", file=stderr()) as bar:
        result = verifying.verify(plan, bar.update)
    for problem in result.problems:
        click.echo(
            "{0}\t{1}\t{2}".format(problem.record_id, problem.key, problem.description)
        )
    click.echo(
        "Verified {0} files ({1} bytes): {2}.".format(
            result.checked, result.size, plural(len(result.problems), "problem")
        )
    )
    if result.problems:
        ctx.exit(1)


__all__ = ("verify",)
