"""The command line's argument types, and the records they name.

* :class:`RecordIdParamType` (``RECORD_ID``): a RECORD argument, a UUID or
  a persistent identifier; :func:`resolve_record` looks it up when the
  command runs, with the group's ``--pid-type`` (kept under
  ``PID_TYPE_KEY`` in the click context).
* :class:`DurationParamType` (``DURATION``): seconds, or a number followed
  by ``s``, ``m``, ``h``, ``d``.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any, Optional, Union

import click

from ..errors import UnknownIdentifierError
from ..maintenance import identifiers

PID_TYPE_KEY = "invenio_records_files_ext.pid_type"
"""Where the group's ``--pid-type`` is kept in the click context."""

# Click's ParamType is generic in its value type in recent releases only: the
# classes below subclass it unsubscripted at run time (click>=8.0).
if TYPE_CHECKING:
    _RecordIdBase = click.ParamType[Union[uuid.UUID, identifiers.RecordRef]]
    _DurationBase = click.ParamType[float]
else:
    _RecordIdBase = _DurationBase = click.ParamType


class RecordIdParamType(_RecordIdBase):
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


class DurationParamType(_DurationBase):
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


def resolve_record(
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


__all__ = (
    "DURATION",
    "PID_TYPE_KEY",
    "RECORD_ID",
    "DurationParamType",
    "RecordIdParamType",
    "resolve_record",
)
