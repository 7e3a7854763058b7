"""Small SQL helpers shared by the modules that query in bulk."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, TypeVar

from invenio_db.shared import UTCDateTime
from sqlalchemy import inspect, literal_column

T = TypeVar("T")


class _CachedUTCDateTime(UTCDateTime):  # type: ignore[misc]  # Invenio-DB is untyped
    """Invenio-DB's UTC time column type, which SQLAlchemy may cache.

    Invenio-DB's type says ``cache_ok = False``: every statement selecting
    one of its columns (``created``, ``updated``) is compiled anew each time
    it runs, a few milliseconds each. It has no parameters, so nothing
    stops its statements from being cached; the values read are the same.
    """

    #: The type has no parameters: its statements may be cached.
    cache_ok = True


def primary_key(instance: Any) -> Any:
    """Return the primary key of a mapped instance with one, not loading it.

    After a commit every instance is expired, and reading even its ``id``
    loads its whole row again; its identity keeps the key without a query.
    An instance not yet flushed has no identity: its attribute is read.
    """
    identity = inspect(instance).identity
    return identity[0] if identity else instance.id


def utc_column(column: Any) -> Any:
    """Return a time column of Invenio-DB's type, cacheable, under its own name.

    Named by its table and name (a statement holding the column itself is
    not cacheable, whatever type it is coerced to): for statements whose
    ``FROM`` names that table, unaliased.
    """
    expression = getattr(column, "expression", column)  # a mapped attribute's column
    name = expression.name
    return literal_column(
        "{0}.{1}".format(expression.table.name, name), _CachedUTCDateTime()
    ).label(name)


CHUNK_SIZE = 500
"""Values per ``IN (...)`` list: well under every database's limit."""


def chunks(values: Iterable[T], size: int = CHUNK_SIZE) -> Iterator[list[T]]:
    """Yield ``values`` in lists of at most ``size`` items."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]
