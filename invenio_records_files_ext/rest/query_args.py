"""The paging arguments of the listing routes, read by webargs.

``size``, ``after`` and ``before`` of ``GET <files route>`` (and of its
``?versions`` listing) and of a zip file's members
(``.../<key>/container``). webargs parses and validates them against a
schema, as Invenio-Files-REST reads its own query arguments; a ``size``
that is not a whole number in range answers this library's
:class:`~invenio_records_files_ext.errors.InvalidPageSizeError` (400 JSON),
not webargs' 422. The cursors stay text here: each listing decodes its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NoReturn, Optional

from flask import Request, request
from marshmallow import EXCLUDE, Schema, ValidationError, validate
from webargs import fields
from webargs.flaskparser import FlaskParser

from ..errors import InvalidPageSizeError


class _RaisingParser(FlaskParser):
    """webargs' Flask parser, handing validation errors back to the caller."""

    def handle_error(
        self,
        error: ValidationError,
        req: Request,
        schema: Schema,
        *,
        error_status_code: Optional[int],
        error_headers: Optional[Mapping[str, str]],
    ) -> NoReturn:
        """Raise the error: :func:`page_args` turns it into the library's."""
        raise error


_parser = _RaisingParser()


@dataclass(frozen=True)
class PageArgs:
    """The paging arguments of one listing request."""

    size: int
    """Entries per page."""
    after: Optional[str]
    """The cursor of the page before this one (``next`` links), if any."""
    before: Optional[str]
    """The cursor of the page after this one (``prev`` links), if any."""

    @property
    def first(self) -> bool:
        """Whether this is the first page (no cursor given)."""
        return not (self.after or self.before)


@lru_cache(maxsize=32)
def _schema(default_size: int, max_size: int) -> Schema:
    # One schema per (default, largest) pair, built once: a listing's fixed
    # cost is measured (benchmarks/listing.py).
    return Schema.from_dict(
        {
            "size": fields.Int(
                load_default=default_size, validate=validate.Range(1, max_size)
            ),
            "after": fields.Str(load_default=None),
            "before": fields.Str(load_default=None),
        }
    )(unknown=EXCLUDE)


def page_args(default_size: int, max_size: int) -> PageArgs:
    """Return the request's paging arguments.

    :param default_size: the page size when the request gives none.
    :param max_size: the largest page size a request may ask for.
    :raises invenio_records_files_ext.errors.InvalidPageSizeError: ``size``
        is not a whole number from 1 to ``max_size``.
    """
    try:
        parsed = _parser.parse(
            _schema(default_size, max_size), request, location="query"
        )
    except ValidationError as error:
        # webargs files the messages under the location ("query").
        messages = error.messages
        if isinstance(messages, dict) and "size" in messages.get("query", messages):
            raise InvalidPageSizeError(
                "size must be a whole number from 1 to {0}.".format(max_size)
            ) from None
        raise
    return PageArgs(
        size=parsed["size"],
        after=parsed["after"] or None,
        before=parsed["before"] or None,
    )


__all__ = ("PageArgs", "page_args")
