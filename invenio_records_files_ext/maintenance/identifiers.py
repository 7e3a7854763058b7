"""Naming a record on the command line: its UUID or a persistent identifier.

A value is read as:

1. a UUID: the record's own id;
2. ``pid_type:pid_value`` (``recid:6``, ``doi:10.1234/abc``);
3. otherwise a PID value of the default type (``recid`` unless configured
   with ``RECORDS_FILES_CLI_DEFAULT_PID_TYPE``).

A value with a colon that names no PID in form 2 is also tried in form 3,
so that values which contain a colon themselves still resolve.

:func:`resolve_named` also keeps the name the record was given
(:class:`NamedRecord`): the maintenance functions accept it wherever they
take a record id, and their messages then name the record as the user did
(``recid:6``) rather than by its UUID.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Optional, Union

from invenio_db import db
from invenio_pidstore.models import PersistentIdentifier
from sqlalchemy import select

from .. import config as defaults
from ..errors import UnknownIdentifierError
from ..settings.current import current_or_defaults

DEFAULT_PID_TYPE = defaults.RECORDS_FILES_CLI_DEFAULT_PID_TYPE
"""PID type of bare values unless configured otherwise."""

RECORD_OBJECT_TYPE = "rec"
"""``object_type`` of PIDs that point to records."""


@dataclass(frozen=True)
class RecordRef:
    """A record as named by a user, not yet looked up."""

    value: str

    def uuid(self) -> Optional[uuid.UUID]:
        """Return the value as a UUID, or ``None`` if it is not one."""
        try:
            return uuid.UUID(self.value)
        except ValueError:
            return None

    def candidates(self, default_pid_type: str) -> list[tuple[str, str]]:
        """Return the ``(pid_type, pid_value)`` pairs the value may mean."""
        found = []
        pid_type, colon, pid_value = self.value.partition(":")
        if colon and pid_type and pid_value:
            found.append((pid_type, pid_value))
        found.append((default_pid_type, self.value))
        return found


@dataclass(frozen=True)
class NamedRecord:
    """A record's id and the name it was given by (a PID, or the UUID)."""

    id: uuid.UUID
    name: str
    """``pid_type:pid_value`` when named by a PID, else the UUID."""

    def __str__(self) -> str:
        """Return the name: messages that format the record show it."""
        return self.name


RecordId = Union[uuid.UUID, NamedRecord]
"""What the maintenance functions accept to name a record."""


def record_uuid(record: RecordId) -> uuid.UUID:
    """Return the id of a record named by its UUID or a :class:`NamedRecord`."""
    return record.id if isinstance(record, NamedRecord) else record


def default_pid_type() -> str:
    """Return ``RECORDS_FILES_CLI_DEFAULT_PID_TYPE`` (``recid`` by default)."""
    return current_or_defaults().cli.default_pid_type


def resolve(value: str, pid_type: Optional[str] = None) -> uuid.UUID:
    """Return the id of the record a UUID or persistent identifier names.

    A UUID is returned as it is (whether a record has it is for the caller
    to find out, as for any record id).

    :param pid_type: type of bare PID values (default:
        :func:`default_pid_type`).
    :raises invenio_records_files_ext.errors.UnknownIdentifierError: no
        PID of that form exists, or it points to no record.
    """
    return resolve_named(value, pid_type).id


def resolve_named(value: str, pid_type: Optional[str] = None) -> NamedRecord:
    """Return the record a UUID or persistent identifier names, with its name.

    The name is ``pid_type:pid_value`` of the PID found (``recid:6``, also
    for a bare ``6``), or the UUID. Raises as :func:`resolve` does.
    """
    ref = RecordRef(str(value).strip())
    as_uuid = ref.uuid()
    if as_uuid is not None:
        return NamedRecord(as_uuid, str(as_uuid))
    candidates = ref.candidates(pid_type or default_pid_type())
    for kind, pid_value in candidates:
        pid = db.session.execute(
            select(PersistentIdentifier).where(
                PersistentIdentifier.pid_type == kind,
                PersistentIdentifier.pid_value == pid_value,
            )
        ).scalar_one_or_none()
        if pid is None:
            continue
        if pid.object_type != RECORD_OBJECT_TYPE or pid.object_uuid is None:
            raise UnknownIdentifierError(
                "PID {0}:{1} does not point to a record.".format(kind, pid_value)
            )
        return NamedRecord(pid.object_uuid, "{0}:{1}".format(kind, pid_value))
    raise UnknownIdentifierError(
        "No record with PID {0}.".format(
            " or ".join("{0}:{1}".format(kind, v) for kind, v in candidates)
        )
    )
