"""Request and response bodies of the files routes, on any WSGI server.

Invenio-Files-REST checks ``request.stream.is_exhausted`` before an upload.
Werkzeug wraps the body in a ``LimitedStream`` (which has that attribute)
only when the server does not set ``wsgi.input_terminated``; production
servers such as gunicorn and waitress do set it, so there ``request.stream``
is the server's own input object and every upload failed with a 500. Giving
the request a ``LimitedStream`` of its ``Content-Length`` restores what
Files-REST expects, and also guarantees that no more than the announced
bytes are read.
"""

from flask import request
from werkzeug.wsgi import LimitedStream, wrap_file

DOWNLOAD_BUFFER_SIZE = 1024 * 1024


def ensure_limited_stream():
    """Make ``request.stream`` a ``LimitedStream`` when the length is known."""
    stream = request.stream
    if hasattr(stream, "is_exhausted"):
        return
    length = request.content_length
    if length is None:
        return
    # ``Request.stream`` is a cached property: replacing the cached value is
    # how the rest of the request (form parsing included) sees the wrapper.
    request._get_current_object().__dict__["stream"] = LimitedStream(stream, length)


def serve_file_body(response, buffer_size=DOWNLOAD_BUFFER_SIZE):
    """Let the WSGI server send a file body itself.

    Invenio-Files-REST answers downloads with the open file as the
    response body; iterating a binary file yields it line by line, a few
    hundred bytes at a time. Wrapped in the server's ``wsgi.file_wrapper``
    the file goes out with ``sendfile()`` (gunicorn) or in large blocks.
    """
    body = response.response
    if response.direct_passthrough and hasattr(body, "read"):
        response.response = wrap_file(request.environ, body, buffer_size)
    return response
