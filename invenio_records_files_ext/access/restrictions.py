"""What a record's JSON says about access to its files: public, restricted, embargoed.

A record keeps its access settings under ``RECORDS_FILES_ACCESS_FIELD``
(``"access"`` by default), in InvenioRDM's shape::

    {
        "access": {
            "record": "public",
            "files": "restricted",
            "embargo": {"active": true, "until": "2030-01-01", "reason": "..."}
        }
    }

``files`` is ``"public"`` (the default when absent) or ``"restricted"``; an
*active* embargo restricts the files whatever ``files`` says, until it is
lifted (:mod:`invenio_records_files_ext.access.embargo`). This module only reads and
writes that JSON; who may read restricted files is decided by
:func:`invenio_records_files_ext.access.decisions.decide`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Optional

from .. import config as defaults
from ..errors import InvalidAccessError
from ..settings.current import current_or_defaults

PUBLIC = "public"
"""Anyone who may read the record may read its files."""

RESTRICTED = "restricted"
"""The files need ``RECORDS_FILES_RESTRICTED_PERMISSION_FACTORY`` too."""

LEVELS = (PUBLIC, RESTRICTED)
"""The values ``access.files`` may take."""

DEFAULT_FIELD = defaults.RECORDS_FILES_ACCESS_FIELD


@dataclass(frozen=True)
class Embargo:
    """An embargo on a record's files, as its JSON states it."""

    active: bool
    """Whether the files are still under embargo."""

    until: Optional[date]
    """The day the embargo may be lifted (lifted on or after it)."""

    reason: Optional[str] = None
    """Why the files are embargoed, for readers."""

    def due(self, today: date) -> bool:
        """Whether the embargo is active and may be lifted on ``today``."""
        return self.active and self.until is not None and self.until <= today


def access_field() -> str:
    """Return ``RECORDS_FILES_ACCESS_FIELD`` (``"access"`` by default)."""
    return current_or_defaults().access.access_field


def access_of(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the record's access settings (an empty mapping when it has none)."""
    value = record.get(access_field()) if isinstance(record, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def parse_date(value: Any) -> date:
    """Return ``value`` (a :class:`~datetime.date` or ``YYYY-MM-DD``) as a date.

    :raises invenio_records_files_ext.errors.InvalidAccessError: for
        anything else.
    """
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]  # a datetime
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidAccessError(
            "An embargo date must be a date (YYYY-MM-DD), not {0!r}.".format(value)
        ) from None


def embargo_of(record: Mapping[str, Any]) -> Optional[Embargo]:
    """Return the record's embargo, or ``None`` when it states none."""
    value = access_of(record).get("embargo")
    if not isinstance(value, Mapping):
        return None
    until = value.get("until")
    try:
        day = parse_date(until) if until else None
    except InvalidAccessError:
        day = None
    reason = value.get("reason")
    return Embargo(bool(value.get("active")), day, reason if reason else None)


def files_restricted(record: Mapping[str, Any]) -> bool:
    """Whether the record's files need more than the record's read permission.

    True when ``access.files`` is ``"restricted"``, when it holds a value
    this library does not know (restricting is the safe reading of a typo),
    or while an embargo is active.
    """
    settings = access_of(record)
    level = settings.get("files", PUBLIC)
    if level != PUBLIC:
        return True
    embargo = embargo_of(record)
    return bool(embargo is not None and embargo.active)


def _settings(record: MutableMapping[str, Any]) -> dict[str, Any]:
    field = access_field()
    current = record.get(field)
    settings = dict(current) if isinstance(current, Mapping) else {}
    record[field] = settings
    return settings


def set_files_access(record: MutableMapping[str, Any], level: str) -> None:
    """Set ``access.files`` to ``"public"`` or ``"restricted"`` in the JSON.

    :raises invenio_records_files_ext.errors.InvalidAccessError: for
        another value.
    """
    if level not in LEVELS:
        raise InvalidAccessError(
            "Files access must be one of {0}, not {1!r}.".format(
                ", ".join(LEVELS), level
            )
        )
    _settings(record)["files"] = level


def write_embargo(
    record: MutableMapping[str, Any], until: date, reason: Optional[str] = None
) -> None:
    """Restrict the files until ``until`` (an active embargo) in the JSON."""
    settings = _settings(record)
    settings["files"] = RESTRICTED
    embargo: dict[str, Any] = {"active": True, "until": until.isoformat()}
    if reason:
        embargo["reason"] = reason
    settings["embargo"] = embargo


def clear_embargo(record: MutableMapping[str, Any]) -> None:
    """Mark the embargo lifted and open the files (and the record) to readers.

    As InvenioRDM does, a lifted embargo makes ``files`` public, and
    ``record`` too when it was restricted; ``until`` and ``reason`` stay as
    a trace of the embargo.
    """
    settings = _settings(record)
    embargo = settings.get("embargo")
    embargo = dict(embargo) if isinstance(embargo, Mapping) else {}
    embargo["active"] = False
    settings["embargo"] = embargo
    settings["files"] = PUBLIC
    if settings.get("record") == RESTRICTED:
        settings["record"] = PUBLIC


__all__ = (
    "Embargo",
    "LEVELS",
    "PUBLIC",
    "RESTRICTED",
    "access_field",
    "access_of",
    "clear_embargo",
    "embargo_of",
    "files_restricted",
    "parse_date",
    "set_files_access",
    "write_embargo",
)
