"""Response bodies of the download routes, on any WSGI server.

A stored file is handed to the server's ``wsgi.file_wrapper`` (the server
sends it itself, ``sendfile()`` where it can); a single ``Range`` is
answered with :class:`RangeReader`, which reads only the asked bytes.
"""

from __future__ import annotations

from typing import IO, Any, Optional, cast

from flask import Response, request
from werkzeug.http import parse_date, parse_etags, parse_range_header
from werkzeug.wsgi import wrap_file

from ..errors import (
    RangeNotSatisfiableError,
)
from ..settings.current import current

DOWNLOAD_BUFFER_SIZE = 1024 * 1024


class RangeReader:
    """A stored file read from ``start`` for ``length`` bytes only.

    Offers ``read`` for servers that copy the body, and the file's
    ``fileno`` (positioned at ``start``) for gunicorn, whose ``sendfile()``
    sends ``Content-Length`` bytes from the file's current position.
    """

    def __init__(self, fp: IO[bytes], start: int, length: int) -> None:
        """Position ``fp`` at ``start``."""
        fp.seek(start)
        self._fp = fp
        self._remaining = length

    def read(self, size: Optional[int] = -1) -> bytes:
        """Read at most ``size`` bytes of the range."""
        if self._remaining <= 0:
            return b""
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        data = self._fp.read(size)
        self._remaining -= len(data)
        return data

    def fileno(self) -> int:
        """Return the file's descriptor (for ``sendfile()``)."""
        return self._fp.fileno()

    def close(self) -> None:
        """Close the file."""
        self._fp.close()


def _requested_range(size: int) -> Optional[tuple[int, int]]:
    """Return ``(start, stop)`` of the single range asked for, or ``None``.

    ``None`` also when the request asks for several ranges, or its
    ``If-Range`` no longer matches: the whole file is then sent. As RFC
    9110 (section 14.2) asks, a ``Range`` header in a unit other than
    ``bytes``, or one that does not parse, is ignored: ``None`` too.

    :raises invenio_records_files_ext.errors.RangeNotSatisfiableError: a
        well-formed byte range outside the file.
    """
    header = request.headers.get("Range")
    if not header or request.method not in ("GET", "HEAD"):
        return None
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes":
        return None
    if len(parsed.ranges) != 1:
        return None
    found = parsed.range_for_length(size)
    if found is None:
        raise RangeNotSatisfiableError(
            size, "The range asked for is outside the file's {0} bytes.".format(size)
        )
    return found


def _if_range_holds(response: Response) -> bool:
    """Tell whether ``If-Range`` (if any) lets a range be sent.

    RFC 9110 (section 13.1.5) asks for a strong match: an entity tag
    compared strongly (a ``W/`` tag never matches) or a date equal to the
    ``Last-Modified`` sent. Werkzeug's ``make_conditional`` would decide
    this for us, but it compares the tag weakly and a date as
    ``If-Modified-Since`` (not later than), and it wraps the body in a
    range reader of its own, where gunicorn's ``sendfile()`` needs the
    file itself (:class:`RangeReader`). Werkzeug parses; this decides.
    """
    condition = request.headers.get("If-Range")
    if not condition:
        return True
    etag, _ = response.get_etag()
    if condition.startswith(("W/", '"')):
        return bool(etag) and parse_etags(condition).contains(cast(str, etag))
    modified = response.last_modified
    since = parse_date(condition)
    return bool(modified and since and modified == since)


def serve_file_body(
    response: Response, buffer_size: int = DOWNLOAD_BUFFER_SIZE
) -> Response:
    """Let the WSGI server send a file body itself; answer single ranges.

    Invenio-Files-REST answers downloads with the open file as the
    response body; iterating a binary file yields it line by line, a few
    hundred bytes at a time. Wrapped in the server's ``wsgi.file_wrapper``
    the file goes out with ``sendfile()`` (gunicorn) or in large blocks.

    With ``RECORDS_FILES_ALLOW_RANGE_REQUESTS``, a single ``Range`` is
    answered with 206 and ``Content-Range`` (the fast path included); an
    unknown unit or a malformed header is ignored (200, the whole file); a
    byte range outside the file raises
    :class:`~invenio_records_files_ext.errors.RangeNotSatisfiableError` (416).
    """
    # The open file Files-REST answers with (checked just below).
    body: Any = response.response
    if not (response.direct_passthrough and hasattr(body, "read")):
        return response
    if response.status_code == 200 and current().rest.allow_range_requests:
        size = response.content_length
        response.headers["Accept-Ranges"] = "bytes"
        try:
            found = _requested_range(size) if size is not None else None
        except RangeNotSatisfiableError:
            body.close()
            raise
        if found is not None and _if_range_holds(response):
            start, stop = found
            response.status_code = 206
            response.content_length = stop - start
            # The MD5 is the whole file's, not the part's.
            response.headers.pop("Content-MD5", None)
            response.headers["Content-Range"] = "bytes {0}-{1}/{2}".format(
                start, stop - 1, size
            )
            body = RangeReader(body, start, stop - start)
    response.response = wrap_file(request.environ, body, buffer_size)
    return response
