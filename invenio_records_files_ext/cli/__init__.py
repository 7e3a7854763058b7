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

The modules, one per command family, and what they share:

* ``attaching``: ``attach``, local files, folders or a BagIt bag.
* ``listing``: ``list``, a record's files.
* ``verifying``: ``verify``, stored bytes against their checksums.
* ``checking``: ``check``, file rows against the buckets (``--repair``).
* ``garbage``: ``gc``, what nothing uses any more.
* ``embargoes``: ``lift-embargoes``.
* ``fixity``: ``flask records-files fixity``: the fixity audit on the
  command line.
* ``params``: the argument types (RECORD, durations) and the resolution
  of a RECORD argument.
* ``output``: what the commands share in printing: progress on stderr,
  refusals as messages, plurals.
"""

from __future__ import annotations

from typing import Optional

import click
from flask.cli import AppGroup

from .attaching import attach
from .checking import check
from .embargoes import lift_embargoes
from .fixity import fixity
from .garbage import gc
from .listing import list_files
from .params import (
    DURATION,
    PID_TYPE_KEY,
    RECORD_ID,
    DurationParamType,
    RecordIdParamType,
)
from .verifying import verify


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


for _command in (attach, list_files, verify, check, gc, lift_embargoes, fixity):
    records_files.add_command(_command)

__all__ = (
    "DURATION",
    "PID_TYPE_KEY",
    "RECORD_ID",
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
