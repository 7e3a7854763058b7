"""Request bodies as Invenio-Files-REST expects them, on any WSGI server.

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
from werkzeug.wsgi import LimitedStream


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
