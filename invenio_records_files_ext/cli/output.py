"""What every command shares in printing: progress, refusals, plurals.

* :func:`stderr`: where progress bars go, so that stdout holds only the
  report.
* :func:`reported`: the library's refusals as a message and exit status 1.
* :func:`plural`: ``1 file``, ``2 files``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..errors import InvalidOperationError, RecordsFilesError, describe


def stderr() -> Any:
    """Where progress bars go, so that stdout holds only the report.

    Read at call time: Click's test runner swaps ``sys.stderr``.
    """
    return sys.stderr


@contextmanager
def reported() -> Iterator[None]:
    """Turn the library's refusals into a message and exit status 1."""
    try:
        yield
    except (RecordsFilesError, InvalidOperationError) as error:
        raise click.ClickException(describe(error)) from None


def plural(count: int, word: str) -> str:
    """Return ``count`` and ``word``, with an ``s`` unless the count is 1."""
    return "{0} {1}{2}".format(count, word, "" if count == 1 else "s")


__all__ = ("plural", "reported", "stderr")
