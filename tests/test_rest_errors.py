"""Every answer of the files routes is JSON, and every error has a message.

Through Flask's test client; ``tests/test_wsgi_servers.py`` repeats the
cases that depend on the server (``//`` in paths, chunked bodies, raw
bytes) under gunicorn and waitress.
"""

import base64
import hashlib
import os
from typing import Optional

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location, MultipartObject, ObjectVersion, Part
from invenio_pidstore.models import PersistentIdentifier

from tests.helpers import (
    IsolatedClient,
    JSONResponse,
    TransactionProbe,
    create_record,
    storage_files,
    stored_record,
    upload,
)

PART = 5 * 1024 * 1024


def assert_json_error(response: JSONResponse, status: int) -> None:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    assert response.json["status"] == status
    assert isinstance(response.json["message"], str) and response.json["message"]


def test_empty_body_has_a_message(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    response = client.put(
        "/records/{0}/files/empty.txt".format(pid),
        data=b"",
        headers={"Content-Type": "application/octet-stream", "Content-Length": "0"},
    )
    assert_json_error(response, 400)
    assert "0 byte(s)" in response.json["message"]
    assert "FILES_REST_MIN_FILE_SIZE" in response.json["message"]
    no_body = client.put("/records/{0}/files/empty.txt".format(pid))
    assert_json_error(no_body, 400)
    assert storage_files(location.uri) == set()


def test_chunked_body_is_refused_with_a_clear_message(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    with open(os.devnull, "rb") as body:
        response = client.put(
            "/records/{0}/files/chunked.txt".format(pid),
            input_stream=body,
            headers={
                "Content-Type": "application/octet-stream",
                "Transfer-Encoding": "chunked",
            },
        )
    assert_json_error(response, 411)
    assert "Transfer-Encoding: chunked" in response.json["message"]
    assert "Content-Length" in response.json["message"]
    assert storage_files(location.uri) == set()


def test_double_slash_in_key_is_a_json_400(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    for path in ("a//b.txt", "/a.txt", "a/"):
        for method in ("put", "get", "delete"):
            response = getattr(client, method)(
                "/records/{0}/files/{1}".format(pid, path),
                data=b"x",
                headers={"Content-Type": "application/octet-stream"},
            )
            assert_json_error(response, 400)
    assert ObjectVersion.query.count() == 0


@pytest.mark.parametrize("suffix", ["", "/", "/a.txt", "/dir/a.txt"])
def test_options_answers_json(
    client: IsolatedClient, db: SQLAlchemy, suffix: str
) -> None:
    pid = create_record(client)
    response = client.options("/records/{0}/files{1}".format(pid, suffix))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    methods = response.json["methods"]
    assert {"GET", "HEAD", "OPTIONS"} <= set(methods)
    assert set(response.headers["Allow"].split(", ")) == set(methods)
    if suffix.startswith("/a") or suffix.startswith("/dir"):
        assert {"PUT", "POST", "DELETE"} <= set(methods)


def test_options_needs_no_record(client: IsolatedClient, db: SQLAlchemy) -> None:
    """A CORS preflight carries no credentials: it must not need a record."""
    response = client.options("/records/999/files/a.txt")
    assert response.status_code == 200
    assert response.mimetype == "application/json"


def test_unknown_method_is_a_json_405(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    response = client.patch("/records/{0}/files/a.txt".format(pid), data=b"x")
    assert_json_error(response, 405)


def test_errors_without_description_get_one(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    """Invenio-Files-REST raises some errors without a description."""
    pid = create_record(client)
    response = client.post("/records/{0}/files/a.txt?uploads".format(pid))
    assert_json_error(response, 400)
    response = client.get("/records/{0}/files/a.txt?uploadId=nope".format(pid))
    assert response.status_code == 422
    assert response.json["message"]


def _start(client: IsolatedClient, pid: str, key: str, size: int) -> str:
    response = client.post(
        "/records/{0}/files/{1}?uploads&size={2}&partSize={3}".format(
            pid, key, size, PART
        )
    )
    assert response.status_code == 200, response.data
    upload_id: str = response.json["id"]
    return upload_id


def _part(
    client: IsolatedClient,
    pid: str,
    key: str,
    upload_id: str,
    number: int,
    data: bytes,
    md5: Optional[str] = None,
) -> JSONResponse:
    headers = {"Content-Type": "application/octet-stream"}
    if md5 is not None:
        headers["Content-MD5"] = md5
    return client.put(
        "/records/{0}/files/{1}?uploadId={2}&partNumber={3}".format(
            pid, key, upload_id, number
        ),
        data=data,
        headers=headers,
    )


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.mark.parametrize(
    "bad_md5",
    ["garbage", "", "00" * 16, b64md5(b"something else")],
    ids=["garbage", "empty", "wrong-hex", "wrong-base64"],
)
def test_part_with_wrong_content_md5_is_refused(
    client: IsolatedClient, db: SQLAlchemy, bad_md5: str
) -> None:
    pid = create_record(client)
    body = os.urandom(PART + 100)
    upload_id = _start(client, pid, "big.bin", len(body))
    first, rest = body[:PART], body[PART:]

    response = _part(client, pid, "big.bin", upload_id, 0, first, bad_md5)
    assert_json_error(response, 400)
    assert "Content-MD5" in response.json["message"]
    assert Part.query.count() == 0

    # The upload stays usable: the part is sent again, right this time.
    assert (
        _part(client, pid, "big.bin", upload_id, 0, first, b64md5(first)).json[
            "checksum"
        ]
        == "md5:" + hashlib.md5(first).hexdigest()
    )
    hex_md5 = hashlib.md5(rest).hexdigest()
    assert _part(client, pid, "big.bin", upload_id, 1, rest, hex_md5).status_code == 200
    done = client.post("/records/{0}/files/big.bin?uploadId={1}".format(pid, upload_id))
    assert done.status_code == 200, done.data
    assert client.get("/records/{0}/files/big.bin".format(pid)).data == body


def test_resent_part_with_wrong_md5_forgets_the_earlier_part(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    """The bytes of the earlier upload of the part were overwritten."""
    pid = create_record(client)
    body = os.urandom(PART + 100)
    upload_id = _start(client, pid, "big.bin", len(body))
    assert _part(client, pid, "big.bin", upload_id, 0, body[:PART]).status_code == 200
    assert Part.query.count() == 1
    garbage = os.urandom(PART)
    response = _part(client, pid, "big.bin", upload_id, 0, garbage, b64md5(body[:PART]))
    assert_json_error(response, 400)
    assert Part.query.count() == 0
    # Completing now is refused: a part is missing.
    assert _part(client, pid, "big.bin", upload_id, 1, body[PART:]).status_code == 200
    incomplete = client.post(
        "/records/{0}/files/big.bin?uploadId={1}".format(pid, upload_id)
    )
    assert incomplete.status_code == 400
    assert incomplete.json["message"]
    assert stored_record(pid).files.keys == []
    assert MultipartObject.query.count() == 1


def test_part_of_wrong_length_is_refused(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload_id = _start(client, pid, "big.bin", PART + 100)
    response = _part(client, pid, "big.bin", upload_id, 1, b"x" * 99)
    assert_json_error(response, 400)
    assert Part.query.count() == 0


def _redirect(old: str, new: str) -> None:
    PersistentIdentifier.get("recid", old).redirect(
        PersistentIdentifier.get("recid", new)
    )


def test_redirected_pid_redirects_file_routes(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    old, new = create_record(client), create_record(client)
    assert upload(client, new, "a.txt", b"new").status_code == 200
    _redirect(old, new)
    db.session.commit()

    item = client.get("/records/{0}".format(old))
    assert item.status_code == 301

    for path, expected in (
        ("/files", "/records/{0}/files".format(new)),
        ("/files/a.txt", "/records/{0}/files/a.txt".format(new)),
        ("/files/dir/b%20c.txt", "/records/{0}/files/dir/b%20c.txt".format(new)),
        (
            "/files/a.txt?versionId=abc&download",
            "/records/{0}/files/a.txt?versionId=abc&download".format(new),
        ),
    ):
        for method in ("get", "head"):
            response = getattr(client, method)("/records/{0}{1}".format(old, path))
            assert response.status_code == 301, (path, response.data)
            assert response.headers["Location"] == "http://localhost" + expected
        body = client.get("/records/{0}{1}".format(old, path)).json
        assert body["location"] == "http://localhost" + expected
        assert body["message"]

    # Writes keep their method: 308.
    put = upload(client, old, "b.txt", b"b")
    assert put.status_code == 308
    assert put.headers["Location"] == "http://localhost/records/{0}/files/b.txt".format(
        new
    )
    delete = client.delete("/records/{0}/files/a.txt".format(old))
    assert delete.status_code == 308
    assert stored_record(new).files.keys == ["a.txt"]

    followed = client.get("/records/{0}/files/a.txt".format(old), follow_redirects=True)
    assert followed.status_code == 200
    assert followed.data == b"new"


def test_part_refused_before_writing_keeps_the_earlier_part(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    """A part refused before any byte is written (bad Content-MD5 value,
    wrong length) leaves an earlier upload of the same part alone."""
    pid = create_record(client)
    body = os.urandom(PART + 100)
    upload_id = _start(client, pid, "big.bin", len(body))
    assert _part(client, pid, "big.bin", upload_id, 0, body[:PART]).status_code == 200
    assert_json_error(
        _part(client, pid, "big.bin", upload_id, 0, body[:PART], "garbage"), 400
    )
    assert_json_error(_part(client, pid, "big.bin", upload_id, 0, b"short"), 400)
    assert Part.query.count() == 1
    assert _part(client, pid, "big.bin", upload_id, 1, body[PART:]).status_code == 200
    done = client.post("/records/{0}/files/big.bin?uploadId={1}".format(pid, upload_id))
    assert done.status_code == 200, done.data
    assert client.get("/records/{0}/files/big.bin".format(pid)).data == body


def test_parts_stream_with_no_transaction_open(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    """A slow client sending a part holds no lock (on SQLite: the write lock
    of the whole database)."""
    pid = create_record(client)
    upload_id = _start(client, pid, "big.bin", PART + 100)
    body = TransactionProbe(os.urandom(PART))
    response = client.put(
        "/records/{0}/files/big.bin?uploadId={1}&partNumber=0".format(pid, upload_id),
        input_stream=body,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": str(PART),
        },
    )
    assert response.status_code == 200, response.data
    assert body.seen and not any(body.seen)
    assert Part.query.count() == 1


def test_zero_sizes_are_refused_as_invalid_not_missing(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    for query in ("size=0&partSize=5242880", "size=10&partSize=0"):
        response = client.post(
            "/records/{0}/files/a.bin?uploads&{1}".format(pid, query)
        )
        assert_json_error(response, 400)
        assert "Missing" not in response.json["message"], query


def test_empty_content_md5_is_refused(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    response = upload(client, pid, "a.txt", b"abc", **{"Content-MD5": ""})
    assert_json_error(response, 400)
    assert "Content-MD5" in response.json["message"]
    assert storage_files(location.uri) == set()


def test_side_doors_stay_shut_on_a_restrictive_app(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OPTIONS, redirects, part uploads, legacy spellings: none skips the
    record's permissions."""
    from urllib.parse import quote

    from tests.users import as_user, owner_permissions

    with monkeypatch.context() as patch:
        owner_permissions(patch, app)
        pid = create_record(client, {"title": "private", "owners": ["alice"]})
        alice = as_user("alice")
        body = os.urandom(PART + 10)
        started = client.post(
            "/records/{0}/files/big.bin?uploads&size={1}&partSize={2}".format(
                pid, len(body), PART
            ),
            headers=alice,
        )
        assert started.status_code == 200
        upload_id = started.json["id"]

        # OPTIONS tells the methods of the route, nothing about the record.
        options = client.options("/records/{0}/files/big.bin".format(pid))
        assert set(options.json) == {"methods"}

        # A part upload to somebody else's multipart upload is refused.
        for who, status in (({}, 401), (as_user("bob"), 403)):
            response = client.put(
                "/records/{0}/files/big.bin?uploadId={1}&partNumber=0".format(
                    pid, upload_id
                ),
                data=body[:PART],
                headers={"Content-Type": "application/octet-stream", **who},
            )
            assert response.status_code == status
        assert Part.query.count() == 0

        # A redirect leads to the same checks at the new address.
        target = create_record(client, {"title": "private", "owners": ["alice"]})
        _redirect(pid, target)
        db.session.commit()
        moved = client.get("/records/{0}/files/big.bin".format(pid))
        assert moved.status_code == 301
        followed = client.get(
            "/records/{0}/files/big.bin".format(pid), follow_redirects=True
        )
        assert followed.status_code == 401
        put = upload(client, pid, "x.txt", b"x", **as_user("bob"))
        assert put.status_code == 308
        assert upload(client, target, "x.txt", b"x", **as_user("bob")).status_code == (
            403
        )
        # A decomposed spelling is checked like any other.
        nfd = quote("cafe\u0301.txt")
        assert upload(client, target, nfd, b"x", **as_user("bob")).status_code == 403
        assert stored_record(target).files.keys == []
