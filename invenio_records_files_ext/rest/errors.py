"""One JSON format for every error: ``{"status": ..., "message": ...}``.

Every error answers a JSON object whose first member is ``status`` (the
HTTP status, an integer) and second ``message`` (never empty); a few add
members after them (``errors``: the field errors of a validation error;
``location``: where a moved file is now). It is serialised here, by
:func:`json_error`, and only here, the way Invenio-REST's
``RESTException`` serialises its own errors, so that the errors of
Invenio-Records-REST's routes (``/records/<pid>``) and of this package's
read alike, byte for byte.

This package's errors carry their own status and message; HTTP errors
raised by Werkzeug or Invenio get their standard description when they have
none, and keep their headers (``Allow`` of a 405, ``WWW-Authenticate``...).
The files routes answer through :data:`ERROR_HANDLERS`;
:func:`register_app_error_handlers` makes every other route of an
application answer the same way (Invenio-REST's own handlers answer errors
without a description with another member order).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from flask import Flask, current_app
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


def error_body(code: int, message: Any, **extra: Any) -> dict[str, Any]:
    """Return the members of an error answer, in their order.

    ``status`` first, then ``message`` (the standard description of the
    status when ``message`` is empty), then ``extra``'s members.
    """
    body: dict[str, Any] = {"status": code, "message": message or default_message(code)}
    body.update((name, value) for name, value in extra.items() if value is not None)
    return body


def json_error(
    code: int,
    message: Any,
    headers: Optional[list[tuple[str, str]]] = None,
    **extra: Any,
) -> Any:
    """Return the JSON answer of an error (see :func:`error_body`).

    :param headers: more headers of the answer (a ``Content-Type`` among
        them is ignored: the answer is JSON).
    """
    response = current_app.response_class(
        json.dumps(error_body(code, message, **extra)),
        status=code,
        mimetype="application/json",
    )
    for name, value in headers or ():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_records_files_error(error: RecordsFilesError) -> Any:
    """Answer a :class:`~invenio_records_files_ext.errors.RecordsFilesError` with its status and a JSON body."""
    response = json_error(error.code, error.message)
    length = getattr(error, "length", None)
    if error.code == 416 and length is not None:
        response.headers["Content-Range"] = "bytes */{0}".format(length)
    return response


def handle_http_exception(error: HTTPException) -> Any:
    """Answer any HTTP error with JSON, keeping its headers.

    An exception that is not an error (no status, or one below 400, as
    Invenio-REST's 304 ``SameContentException``) answers as it is.
    """
    if error.code is None or error.code < 400:
        return error
    if isinstance(error, RESTException):
        return json_error(
            error.code,
            error.get_description(),
            error.get_headers(),
            errors=error.get_errors(),
        )
    return json_error(error.code, error.description, error.get_headers())


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


def register_app_error_handlers(app: Flask) -> None:
    """Answer every HTTP error of ``app``'s routes in the one JSON format.

    Replaces the application-wide handlers of each error status (those
    Invenio-REST installs included) with :func:`handle_http_exception`;
    blueprints' own handlers still come first. Call it after Invenio-REST
    is initialised. The demo does; an Invenio site decides for itself,
    since it changes the answers of every module's routes.
    """
    for code in sorted(default_exceptions):
        if code >= 400:
            app.register_error_handler(code, handle_http_exception)


def answer_error(error: Exception) -> Any:
    """Answer ``error`` through :data:`ERROR_HANDLERS`; re-raise any other error."""
    for error_class, handler in ERROR_HANDLERS:
        if isinstance(error, error_class):
            return handler(error)
    raise error
