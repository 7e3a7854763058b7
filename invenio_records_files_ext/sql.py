"""Small SQL helpers shared by the modules that query in bulk."""

from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

CHUNK_SIZE = 500
"""Values per ``IN (...)`` list: well under every database's limit."""


def chunks(values: Iterable[T], size: int = CHUNK_SIZE) -> Iterator[list[T]]:
    """Yield ``values`` in lists of at most ``size`` items."""
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]
