"""One JSON format for every error the demo answers, whoever raised it.

``{"status": <int>, "message": <str>}``, in this order, serialised by
``rest/errors.py``: the files routes, Invenio-Records-REST's record
routes, Invenio-Files-REST's routes, the demo's own routes and URLs no
route matches. The format is the one of Invenio-REST's ``RESTException``,
byte for byte, so that an application that does not install the handlers
application-wide still answers one format on the records' and files'
routes.
"""

import json
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_rest.errors import FieldError, RESTValidationError, SameContentException
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

from invenio_records_files_ext.rest.errors import error_body, handle_http_exception
from tests.helpers import IsolatedClient, create_record, upload


@pytest.fixture(scope="module")
def app(demo_app: Flask) -> Flask:
    """The demo: its application serves the requests."""
    return demo_app


def assert_one_format(response: Response, status: int) -> Any:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.json
    assert body is not None, response.data
    assert list(body)[:2] == ["status", "message"], body
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    # The one serialiser: what RESTException.get_body() writes.
    assert response.data == json.dumps(body).encode()
    return body


@pytest.fixture()
def locked_pid(client: IsolatedClient, db: SQLAlchemy) -> str:
    pid = create_record(client, {"title": "Locked"})
    assert upload(client, pid, "a.txt", b"a").status_code == 200
    assert client.put("/demo/records/{0}/lock".format(pid)).status_code == 200
    return pid


def test_every_route_answers_errors_in_one_format(
    client: IsolatedClient, locked_pid: str
) -> None:
    pid = locked_pid
    cases = [
        # The files routes (this package).
        ("put", "/records/{0}/files/b.txt".format(pid), 403),
        ("get", "/records/{0}/files/nothing.txt".format(pid), 404),
        ("put", "/records/{0}/files/a%2F..%2Fb".format(pid), 400),
        # Invenio-Records-REST's record routes (RESTException).
        ("get", "/records/999", 404),
        ("get", "/records/999/files/a.txt", 404),
        ("post", "/records/", 400),
        # Invenio-Files-REST's routes.
        ("get", "/files/00000000-0000-0000-0000-000000000000", 404),
        # The demo's routes, and a URL no route matches.
        ("patch", "/demo/records/{0}/file".format(pid), 400),
        ("post", "/demo/records/999/versions", 404),
        ("get", "/nowhere", 404),
    ]
    for method, url, status in cases:
        kwargs: dict[str, Any] = {
            "data": b"x",
            "content_type": "application/octet-stream",
        }
        if url == "/records/":
            kwargs = {"data": "not json", "content_type": "application/json"}
        elif "/demo/" in url:
            kwargs = {"json": {}}
        assert_one_format(getattr(client, method)(url, **kwargs), status)

    assert client.delete("/records/{0}".format(pid)).status_code == 204
    assert_one_format(client.get("/records/{0}".format(pid)), 410)


def test_a_405_keeps_its_allow_header(client: IsolatedClient, db: SQLAlchemy) -> None:
    response = client.post("/demo/records/1/lock")
    body = assert_one_format(response, 405)
    assert body["message"]
    assert "PUT" in response.headers["Allow"] and "DELETE" in response.headers["Allow"]


def test_field_errors_follow_status_and_message(appctx: Flask) -> None:
    error = RESTValidationError(errors=[FieldError("title", "Missing.")])
    response = handle_http_exception(error)
    assert_one_format(response, 400)
    assert response.json["errors"] == [{"field": "title", "message": "Missing."}]
    assert response.data == error.get_body().encode()


def test_a_missing_description_gets_the_standard_one(appctx: Flask) -> None:
    response = handle_http_exception(NotFound(description=""))
    assert assert_one_format(response, 404)["message"] == NotFound.description
    assert error_body(599, None) == {"status": 599, "message": "Error 599"}
    allowed = handle_http_exception(MethodNotAllowed(["GET"]))
    assert allowed.headers["Allow"] == "GET"


def test_a_304_is_not_an_error(appctx: Flask) -> None:
    same = SameContentException("etag")
    assert handle_http_exception(same) is same
