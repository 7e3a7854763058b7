"""JSON answers for every error of the files routes.

Every error answers ``{"status": ..., "message": ...}`` with a non-empty
message: this package's errors carry their own status and message, HTTP
errors raised by Werkzeug or Invenio get their standard description when
they have none.
"""

from __future__ import annotations

from typing import Any, Callable

from flask import jsonify
from invenio_rest.errors import RESTException
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from ..errors import RecordsFilesError


def default_message(code: int) -> str:
    """Return the standard description of an HTTP status."""
    known = default_exceptions.get(code)
    if known is not None and known.description:
        return known.description
    return HTTP_STATUS_CODES.get(code, "Error {0}".format(code))


def json_error(code: int, message: Any) -> Any:
    """Return a JSON error answer; a missing message gets the standard one."""
    response = jsonify({"status": code, "message": message or default_message(code)})
    response.status_code = code
    return response


def handle_records_files_error(error):
    """Answer a :class:`~invenio_records_files_ext.errors.RecordsFilesError` with its status and a JSON body."""
    response = json_error(error.code, error.message)
    length = getattr(error, "length", None)
    if error.code == 416 and length is not None:
        response.headers["Content-Range"] = "bytes */{0}".format(length)
    return response


def handle_http_exception(error):
    """Answer any HTTP error raised in the files routes with JSON."""
    if isinstance(error, RESTException):
        if not error.description:
            error.description = default_message(error.code)
        return error
    if error.code is None:  # pragma: no cover - not an error response
        return error
    return json_error(error.code, error.description)


ERROR_HANDLERS: tuple[tuple[type[Exception], Callable[[Any], Any]], ...] = (
    (RecordsFilesError, handle_records_files_error),
    (HTTPException, handle_http_exception),
)
"""The one table from errors to answers, most specific first: this
package's errors carry their status (:mod:`invenio_records_files_ext.errors`),
every other HTTP error gets a JSON body."""


def register_error_handlers(blueprint: Any) -> None:
    """Answer the errors of ``blueprint``'s routes through :data:`ERROR_HANDLERS`."""
    for error_class, handler in ERROR_HANDLERS:
        blueprint.register_error_handler(error_class, handler)


def answer_error(error: Exception) -> Any:
    """Answer ``error`` through :data:`ERROR_HANDLERS`; re-raise any other error."""
    for error_class, handler in ERROR_HANDLERS:
        if isinstance(error, error_class):
            return handler(error)
    raise error
