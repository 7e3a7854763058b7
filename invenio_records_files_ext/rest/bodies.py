"""Request bodies of the JSON routes: JSON, declared as such, or nothing.

A browser sends a cross-site form (``enctype="text/plain"``, or the other
form encodings) with the user's cookies and without asking first, but it
cannot send ``Content-Type: application/json`` without a CORS preflight
the site does not grant. So a route that changes something and reads a
JSON body takes only ``application/json`` (as Invenio-Records-REST does)
and answers 415 otherwise; a route whose body is optional (a commit, the
files import, a multipart start) takes no body without a
``Content-Type`` too, which is what a script or the deposit page sends.
Every JSON route of the library reads its body through this module.
"""

from __future__ import annotations

from typing import Any

from flask import request

from ..errors import InvalidTransferError, UnsupportedBodyError

JSON_MIMETYPE = "application/json"


def _refuse() -> UnsupportedBodyError:
    given = request.mimetype or "none"
    return UnsupportedBodyError(
        "Send the body as JSON, with 'Content-Type: application/json' "
        "(not {0!r}).".format(given)
    )


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )


def check_json_or_empty() -> None:
    """Refuse a body or a ``Content-Type`` other than JSON (an optional JSON body).

    :raises invenio_records_files_ext.errors.UnsupportedBodyError: 415.
    """
    if request.mimetype == JSON_MIMETYPE:
        return
    if request.mimetype or _has_body():
        raise _refuse()


def json_body(message: str) -> Any:
    """Return the JSON body of the request, which must be declared JSON.

    :param message: what to say when the body is missing or not JSON (400).
    :raises invenio_records_files_ext.errors.UnsupportedBodyError: 415, the
        body is not ``application/json``.
    :raises invenio_records_files_ext.errors.InvalidTransferError: 400,
        no body, or not JSON.
    """
    if request.mimetype != JSON_MIMETYPE:
        raise _refuse()
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidTransferError(message)
    return data


def optional_json_body() -> Any:
    """Return the JSON body of the request, or ``None`` without one.

    :raises invenio_records_files_ext.errors.UnsupportedBodyError: 415, a
        body or ``Content-Type`` other than JSON.
    """
    check_json_or_empty()
    if not _has_body():
        return None
    return request.get_json(silent=True)


__all__ = ("JSON_MIMETYPE", "check_json_or_empty", "json_body", "optional_json_body")
