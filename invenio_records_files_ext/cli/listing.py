"""``flask records-files list``: a record's files, soft-deleted records too."""

from __future__ import annotations

import uuid
from typing import Union

import click
from flask.cli import with_appcontext

from ..maintenance import identifiers
from ..maintenance.records import load_record, record_files
from .output import reported
from .params import RECORD_ID, resolve_record


@click.command("list")
@with_appcontext
@click.argument("record_id", metavar="RECORD", type=RECORD_ID)
def list_files(record_id: Union[uuid.UUID, identifiers.RecordRef]) -> None:
    """List a record's files in order: key, size and checksum.

    Soft-deleted records are listed too, in the order they had.
    """
    named = resolve_record(record_id)
    with reported():
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


__all__ = ("list_files",)
