"""``flask records-files attach``: local files, folders or a BagIt bag into a record.

The command parses its arguments, calls
:mod:`invenio_records_files_ext.maintenance.attach` (or
:mod:`~invenio_records_files_ext.maintenance.bag_ingest` with ``--bag``)
and prints what it returns.
"""

from __future__ import annotations

import uuid
from typing import Optional, Union

import click
from flask.cli import with_appcontext

from ..db.sqlite import immediate_transactions
from ..errors import LocalPathError
from ..maintenance import attach as attaching
from ..maintenance import bag_ingest, identifiers
from .output import plural, reported, stderr
from .params import RECORD_ID, resolve_record


@click.command("attach")
@with_appcontext
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
    record = resolve_record(record_id)
    if bag is not None:
        _attach_bag(record, bag, batch_size, batch_bytes)
        return
    with reported():
        stored = attaching.stored_files(record)
    try:
        collected = attaching.collect(paths)
    except LocalPathError as error:
        raise click.BadParameter(error.message, param_hint="PATH") from None

    with click.progressbar(
        length=collected.size, label="Attaching", file=stderr()
    ) as bar:
        with reported():
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
    with reported():
        # Every byte is read twice: once to verify, once to store.
        length = 2 * bag_ingest.payload_size(bag)
    with click.progressbar(
        length=length, label="Verifying and attaching", file=stderr()
    ) as bar:
        with reported():
            done = bag_ingest.ingest_bag(
                record, bag, batch_size, batch_bytes, bar.update
            )
    click.echo(
        "Verified {0} ({1}); attached {2.attached} files ({2.attached_bytes} "
        "bytes); skipped {2.skipped} already attached ({2.skipped_bytes} "
        "bytes).".format(
            plural(done.files, "file"), ", ".join(done.algorithms), done.attached
        )
    )


__all__ = ("attach",)
