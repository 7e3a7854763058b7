"""Request and response bodies of the files routes, on any WSGI server.

Invenio-Files-REST checks ``request.stream.is_exhausted`` before an upload.
Werkzeug wraps the body in a ``LimitedStream`` (which has that attribute)
only when the server does not set ``wsgi.input_terminated``; production
servers such as gunicorn and waitress do set it, so there ``request.stream``
is the server's own input object and every upload failed with a 500.
:class:`BoundedInput` gives Files-REST what it expects, and guarantees that
no more than the announced bytes are read.
"""

from flask import current_app, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import parse_date, parse_etags, parse_range_header
from werkzeug.wsgi import wrap_file

from .errors import (
    BodyTooSmallError,
    ContentLengthRequiredError,
    RangeNotSatisfiableError,
)
from .storage import DEFAULT_UPLOAD_CHUNK_SIZE

DOWNLOAD_BUFFER_SIZE = 1024 * 1024

MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
"""Largest block whose release raises glibc's mmap threshold (64-bit)."""

_memory_reused_for = 0


def reuse_memory_for(chunk_size):
    """Have the C allocator serve a body's buffers from memory it reuses.

    glibc's ``malloc`` serves blocks at or above its mmap threshold (128 KiB
    at first) with new pages from the kernel and gives them back on
    release. A server receives a body in buffers of up to a MiB (gunicorn
    asks its socket for 1 MiB at a time, then copies what came), so while
    the threshold is below that, each MiB received costs hundreds of page
    faults: an upload then needs about twice the CPU, more on a virtual
    machine whose host reclaims the released memory. glibc raises the
    threshold for good to the size of any such block released: one block
    of four chunks, allocated with ``calloc`` (never written, so never
    faulted in) and released once per process, lifts it above the
    server's buffers. Other allocators lose nothing by it.
    """
    global _memory_reused_for
    size = min(4 * chunk_size, MMAP_THRESHOLD_MAX)
    if size > _memory_reused_for:
        _memory_reused_for = size
        bytes(size)  # allocated and released at once


class BoundedInput:
    """A request body of known length, read straight from the server.

    Offers what Invenio-Files-REST and Werkzeug's form parser use of a
    ``LimitedStream`` (``is_exhausted``, ``read``, ``readline``, iteration)
    without its intermediate buffer: each read returns the server's bytes
    as they are, which matters for uploads of hundreds of MiB. A body that
    ends before its announced length raises ``ClientDisconnected`` (400).
    """

    def __init__(self, stream, length):
        """Wrap the server's input ``stream`` of ``length`` bytes."""
        self._stream = stream
        self._remaining = length

    @property
    def is_exhausted(self):
        """Whether the whole body has been read."""
        return self._remaining <= 0

    def _take(self, read, size):
        if self._remaining <= 0:
            return b""
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        try:
            data = read(size)
        except (OSError, ValueError) as error:
            raise ClientDisconnected() from error
        if not data:
            raise ClientDisconnected()
        self._remaining -= len(data)
        return data

    def read(self, size=-1):
        """Read at most ``size`` bytes (the rest of the body by default)."""
        return self._take(self._stream.read, size)

    def readline(self, size=-1):
        """Read one line of at most ``size`` bytes."""
        return self._take(self._stream.readline, size)

    def __iter__(self):
        """Iterate over the lines of the body."""
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class BoundedFileInput(BoundedInput):
    """A :class:`BoundedInput` over a body that reads into buffers.

    Waitress hands the body over as a file; ``readinto`` lets the write
    loop read it into its own reused buffers, with no copy in between.
    """

    def readinto(self, buffer):
        """Read at most ``len(buffer)`` bytes into ``buffer``; return how many."""
        if self._remaining <= 0:
            return 0
        view = memoryview(buffer)
        if len(view) > self._remaining:
            view = view[: self._remaining]
        try:
            read = self._stream.readinto(view)
        except (OSError, ValueError) as error:
            raise ClientDisconnected() from error
        if not read:
            raise ClientDisconnected()
        self._remaining -= read
        return read


def check_upload_body():
    """Refuse an upload body that cannot be stored, before reading it.

    :raises invenio_records_files_ext.errors.ContentLengthRequiredError: a
        chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``),
        which gunicorn passes on as it comes: the size must be known
        beforehand to check the quota and the body.
    :raises invenio_records_files_ext.errors.BodyTooSmallError: fewer
        bytes than ``FILES_REST_MIN_FILE_SIZE`` (an empty body, or none).
    """
    length = request.content_length
    if (
        length is None
        and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    ):
        raise ContentLengthRequiredError(
            "Chunked uploads (Transfer-Encoding: chunked) are not supported: "
            "send the body with a Content-Length header, or use a multipart "
            "upload for large files."
        )
    # Without Content-Length nor Transfer-Encoding, HTTP says the body is
    # empty.
    length = length or 0
    minimum = current_app.config.get("FILES_REST_MIN_FILE_SIZE", 1)
    if length < minimum:
        raise BodyTooSmallError(length, minimum)


def ensure_limited_stream():
    """Make ``request.stream`` bounded by ``Content-Length`` when it is not.

    For a body of more than one upload chunk, see :func:`reuse_memory_for`
    first.
    """
    chunk_size = current_app.config.get(
        "RECORDS_FILES_UPLOAD_CHUNK_SIZE", DEFAULT_UPLOAD_CHUNK_SIZE
    )
    if (request.content_length or 0) > chunk_size:
        reuse_memory_for(chunk_size)
    stream = request.stream
    if hasattr(stream, "is_exhausted"):
        return
    length = request.content_length
    if length is None:
        return
    # ``Request.stream`` is a cached property: replacing the cached value is
    # how the rest of the request (form parsing included) sees the wrapper.
    wrapper = BoundedFileInput if hasattr(stream, "readinto") else BoundedInput
    request._get_current_object().__dict__["stream"] = wrapper(stream, length)


class RangeReader:
    """A stored file read from ``start`` for ``length`` bytes only.

    Offers ``read`` for servers that copy the body, and the file's
    ``fileno`` (positioned at ``start``) for gunicorn, whose ``sendfile()``
    sends ``Content-Length`` bytes from the file's current position.
    """

    def __init__(self, fp, start, length):
        """Position ``fp`` at ``start``."""
        fp.seek(start)
        self._fp = fp
        self._remaining = length

    def read(self, size=-1):
        """Read at most ``size`` bytes of the range."""
        if self._remaining <= 0:
            return b""
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        data = self._fp.read(size)
        self._remaining -= len(data)
        return data

    def fileno(self):
        """Return the file's descriptor (for ``sendfile()``)."""
        return self._fp.fileno()

    def close(self):
        """Close the file."""
        self._fp.close()


def _requested_range(size):
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


def _if_range_holds(response):
    condition = request.headers.get("If-Range")
    if not condition:
        return True
    etag, _ = response.get_etag()
    if condition.startswith(("W/", '"')):
        return bool(etag) and parse_etags(condition).contains(etag)
    modified = response.last_modified
    since = parse_date(condition)
    return bool(modified and since and modified <= since)


def serve_file_body(response, buffer_size=DOWNLOAD_BUFFER_SIZE):
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
    body = response.response
    if not (response.direct_passthrough and hasattr(body, "read")):
        return response
    if response.status_code == 200 and current_app.config.get(
        "RECORDS_FILES_ALLOW_RANGE_REQUESTS", True
    ):
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
