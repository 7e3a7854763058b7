"""Opaque listing cursors: a list of JSON values as a URL-safe string."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..errors import InvalidCursorError


def encode(values: list[Any]) -> str:
    """Return ``values`` as an opaque, URL-safe string."""
    raw = json.dumps(values, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode(value: str, *types: type) -> list[Any]:
    """Read a cursor made by :func:`encode` holding values of ``types``.

    :raises invenio_records_files_ext.errors.InvalidCursorError: if it is
        not one.
    """
    try:
        padded = value + "=" * (-len(value) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, TypeError, UnicodeError, binascii.Error) as error:
        raise InvalidCursorError() from error
    if not isinstance(values, list) or len(values) != len(types):
        raise InvalidCursorError()
    for item, kind in zip(values, types):
        if not isinstance(item, kind) or isinstance(item, bool):
            raise InvalidCursorError()
    return values
