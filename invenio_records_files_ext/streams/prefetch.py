"""Streamed bodies whose first block is produced before the response starts.

A streamed body that fails at its first block fails after the view has
returned: the WSGI server has no headers out yet and answers its own 500
page. :func:`started` produces the first block inside the view, so that
what is wrong there (a damaged zip member, a stored file that cannot be
opened) is raised where the error handlers answer JSON. What fails later
can no longer change the status: it is logged and the stream is cut (the
exception goes on to the server, which closes the connection instead of
ending the body cleanly: the client never mistakes it for a whole one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import current_app, has_app_context

logger = logging.getLogger(__name__)
"""Where cut streams are reported when no application is at hand."""


def _report(what: str, error: BaseException) -> None:
    log = current_app.logger if has_app_context() else logger
    log.error("Stream of %s cut: %s", what, error, exc_info=error)


def _rest(first: bytes, chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    if first:
        yield first
    try:
        yield from chunks
    except GeneratorExit:
        raise
    except Exception as error:
        _report(what, error)
        raise
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def started(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    """Produce the first non-empty block of ``chunks`` now; return all blocks.

    :param what: names the stream in the log (``"bundle.zip/a.csv"``).
    :raises Exception: whatever producing the first block raises (the
        caller answers it); ``chunks`` is closed then.
    """
    first = b""
    try:
        for block in chunks:
            if block:
                first = block
                break
    except BaseException:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        raise
    return _rest(first, chunks, what)


__all__ = ("started",)
