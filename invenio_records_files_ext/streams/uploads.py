"""Request bodies of the upload routes, on any WSGI server.

Invenio-Files-REST checks ``request.stream.is_exhausted`` before an upload.
Werkzeug wraps the body in a ``LimitedStream`` (which has that attribute)
only when the server does not set ``wsgi.input_terminated``; production
servers such as gunicorn and waitress do set it, so there ``request.stream``
is the server's own input object and every upload failed with a 500.
:class:`BoundedInput` gives Files-REST what it expects, and guarantees that
no more than the announced bytes are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Optional

from flask import current_app, request
from werkzeug.exceptions import ClientDisconnected

from ..errors import (
    BodyTooSmallError,
    ContentLengthRequiredError,
)
from ..settings.current import current

MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
"""Largest block whose release raises glibc's mmap threshold (64-bit)."""


_memory_reused_for = 0


def reuse_memory_for(chunk_size: int) -> None:
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

    def __init__(self, stream: Any, length: int) -> None:
        """Wrap the server's input ``stream`` of ``length`` bytes."""
        self._stream = stream
        self._remaining = length

    @property
    def is_exhausted(self) -> bool:
        """Whether the whole body has been read."""
        return self._remaining <= 0

    def _take(self, read: Callable[[int], bytes], size: Optional[int]) -> bytes:
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

    def read(self, size: Optional[int] = -1) -> bytes:
        """Read at most ``size`` bytes (the rest of the body by default)."""
        return self._take(self._stream.read, size)

    def readline(self, size: Optional[int] = -1) -> bytes:
        """Read one line of at most ``size`` bytes."""
        return self._take(self._stream.readline, size)

    def __iter__(self) -> Iterator[bytes]:
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

    def readinto(self, buffer: Any) -> int:
        """Read at most ``len(buffer)`` bytes into ``buffer``; return how many."""
        if self._remaining <= 0:
            return 0
        view = memoryview(buffer)
        if len(view) > self._remaining:
            view = view[: self._remaining]
        try:
            read: Optional[int] = self._stream.readinto(view)
        except (OSError, ValueError) as error:
            raise ClientDisconnected() from error
        if not read:
            raise ClientDisconnected()
        self._remaining -= read
        return read


def check_upload_body() -> None:
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


def ensure_limited_stream() -> None:
    """Make ``request.stream`` bounded by ``Content-Length`` when it is not.

    For a body of more than one upload chunk, see :func:`reuse_memory_for`
    first.
    """
    chunk_size = current().storage.upload_chunk_size
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
    # Flask annotates ``request`` as a ``Request``, hiding the proxy's method.
    target = request._get_current_object()  # type: ignore[attr-defined]  # Flask types the proxy as Request
    target.__dict__["stream"] = wrapper(stream, length)
