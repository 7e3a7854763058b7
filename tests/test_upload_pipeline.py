"""Issue 18: the upload pipeline's findings, through the Flask client.

Each test here failed on the commit before the fix (b127be1) and names the
finding it proves. The same requests through gunicorn are in
``tests/test_upload_pipeline_served.py``.
"""

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any, Optional

import pytest
from click.testing import Result
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location, MultipartObject, Part
from sqlalchemy import update

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.errors import (
    InvalidMetadataError,
    InvalidTransferError,
)
from invenio_records_files_ext.files.pending import PendingWriter
from invenio_records_files_ext.models import FileTransfer
from invenio_records_files_ext.records import imports as files_import
from invenio_records_files_ext.transfers import TransferRequest
from tests.helpers import (
    JSON,
    IsolatedClient,
    JSONResponse,
    commit,
    create_record,
    files_of,
    files_url,
    init,
    multipart,
    payload,
    put_content,
    storage_files,
    stored_record,
    upload,
)

PART = 4
"""Part size of the Files-REST uploads here (the minimum is lowered to it)."""


def content_md5(data: bytes) -> str:
    """Return the Content-MD5 header value of ``data`` (base64, as HTTP has it)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def files_rest_upload(
    client: IsolatedClient, pid: str, key: str, data: bytes, part_size: int = PART
) -> tuple[JSONResponse, list[JSONResponse], JSONResponse]:
    """Send ``data`` through Files-REST's ``?uploads`` protocol; return the answers."""
    base = files_url(pid, key)
    started = client.post(
        "{0}?uploads&size={1}&partSize={2}".format(base, len(data), part_size)
    )
    assert started.status_code == 200, started.json
    upload_id = started.json["id"]
    answers: list[JSONResponse] = []
    for number, start in enumerate(range(0, len(data), part_size)):
        answers.append(
            client.put(
                "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
                data=data[start : start + part_size],
                headers={"Content-Type": "application/octet-stream"},
            )
        )
    done = client.post("{0}?uploadId={1}".format(base, upload_id))
    return started, answers, done


#
# Finding 9: a size that is a multiple of the part size
#
@pytest.mark.parametrize("size", [2 * PART, 3 * PART, 2 * PART + 1, 3 * PART - 1])
def test_files_rest_multipart_of_any_size_completes(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    """Finding 9: the last part of a multiple is a whole part, not 0 bytes."""
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", PART)
    data = payload(size)
    pid = create_record(client)
    started, parts, done = files_rest_upload(client, pid, "m.bin", data)
    expected_last = size % PART or PART
    assert started.json["last_part_size"] == expected_last
    assert started.json["last_part_number"] == len(parts) - 1
    for part in parts:
        assert part.status_code == 200, part.json
    assert done.status_code == 200, done.data
    assert client.get(files_url(pid, "m.bin")).data == data
    assert stored_record(pid).files.bucket.size == size


def test_files_rest_last_part_of_a_multiple_refuses_other_lengths(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", PART)
    pid = create_record(client)
    base = files_url(pid, "m.bin")
    upload_id = client.post(base + "?uploads&size=8&partSize=4").json["id"]
    url = "{0}?uploadId={1}&partNumber=1".format(base, upload_id)
    headers = {"Content-Type": "application/octet-stream"}
    for wrong in (b"", b"abc", b"abcde"):
        answer = client.put(url, data=wrong, headers=headers)
        assert answer.status_code == 400, answer.json
    assert client.put(url, data=b"abcd", headers=headers).status_code == 200
    beyond = "{0}?uploadId={1}&partNumber=2".format(base, upload_id)
    assert client.put(beyond, data=b"abcd", headers=headers).status_code == 400


@pytest.mark.parametrize(
    "size,parts,part_size", [(800, 2, 400), (1200, 3, 400), (1000, 3, 400)]
)
def test_multipart_transfer_of_any_size_completes(
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    size: int,
    parts: int,
    part_size: int,
) -> None:
    """Finding 9, the multipart transfer: multiples and not."""
    data = payload(size)
    pid = create_record(client)
    [entry] = init(client, pid, [multipart("m.bin", data, parts, part_size)]).json[
        "entries"
    ]
    for link in entry["links"]["parts"]:
        start = (link["part"] - 1) * part_size
        put = client.put(link["url"], data=data[start : start + part_size])
        assert put.status_code == 200, put.json
    done = commit(client, pid, "m.bin")
    assert done.status_code == 200, done.json
    assert client.get(files_url(pid, "m.bin", "content")).data == data


def test_multipart_transfer_checks_each_part_content_md5(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    """One multipart core: the transfer checks a part's Content-MD5 as ?uploads does."""
    data = payload(800)
    pid = create_record(client)
    [entry] = init(client, pid, [multipart("m.bin", data, 2, 400)]).json["entries"]
    first = entry["links"]["parts"][0]["url"]
    wrong = client.put(
        first, data=data[:400], headers={"Content-MD5": content_md5(b"other")}
    )
    assert wrong.status_code == 400, wrong.json
    assert "does not match" in wrong.json["message"]
    found = stored_record(pid).files.transfers.get("m.bin")
    assert found.details.get("received", []) == []
    bad = client.put(first, data=data[:400], headers={"Content-MD5": "nope"})
    assert bad.status_code == 400
    right = client.put(
        first, data=data[:400], headers={"Content-MD5": content_md5(data[:400])}
    )
    assert right.status_code == 200, right.json
    assert stored_record(pid).files.transfers.get("m.bin").details["received"] == [1]


#
# Finding 5: JSON routes take JSON bodies only (no CSRF by text/plain)
#
FORM_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
"""What a cross-site HTML form can send, with the user's cookies."""


def assert_415(response: JSONResponse) -> None:
    assert response.status_code == 415, response.data
    assert response.json["status"] == 415
    assert "application/json" in response.json["message"]


@pytest.mark.parametrize("content_type", FORM_TYPES + [None])
def test_announce_refuses_a_body_that_is_not_json(
    client: IsolatedClient, db: SQLAlchemy, content_type: Optional[str]
) -> None:
    pid = create_record(client)
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps([{"key": "csrf.bin", "size": 10**6}])
    assert_415(client.post(files_url(pid), data=body, headers=headers))
    assert db.session.query(FileTransfer).count() == 0
    assert stored_record(pid).files.bucket.size == 0
    assert init(client, pid, [{"key": "ok.bin"}]).status_code == 201


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_commit_refuses_a_form(
    client: IsolatedClient, db: SQLAlchemy, content_type: str
) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "a.txt"}])
    put_content(client, pid, "a.txt", b"a")
    url = files_url(pid, "a.txt", "commit")
    assert_415(client.post(url, data="x=1", headers={"Content-Type": content_type}))
    assert stored_record(pid).files.transfers.get("a.txt").state == "received"
    # No body at all (scripts, the deposit page), or an empty JSON one.
    assert client.post(url, headers=JSON).status_code == 200


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_files_rest_multipart_start_and_complete_refuse_a_form(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    monkeypatch: pytest.MonkeyPatch,
    content_type: str,
) -> None:
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", PART)
    pid = create_record(client)
    base = files_url(pid, "m.bin")
    form = {"Content-Type": content_type}
    assert_415(client.post(base + "?uploads&size=8&partSize=4", data="", headers=form))
    assert db.session.query(MultipartObject).count() == 0
    assert stored_record(pid).files.bucket.size == 0
    upload_id = client.post(base + "?uploads&size=8&partSize=4").json["id"]
    for number in (0, 1):
        client.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=b"abcd",
            headers={"Content-Type": "application/octet-stream"},
        )
    complete = "{0}?uploadId={1}".format(base, upload_id)
    assert_415(client.post(complete, data="x", headers=form))
    assert stored_record(pid).files.keys == []
    assert client.post(complete).status_code == 200


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_files_import_refuses_a_form(
    client: IsolatedClient, db: SQLAlchemy, location: Location, content_type: str
) -> None:
    old = create_record(client)
    upload(client, old, "a.txt", b"a")
    new = create_record(client)
    files_import.mark_new_version(stored_record(new), stored_record(old))
    db.session.commit()
    url = "/records/{0}/actions/files-import".format(new)
    body = json.dumps({"previous": old})
    assert_415(client.post(url, data=body, headers={"Content-Type": content_type}))
    assert stored_record(new).files.keys == []
    assert client.post(url, data=body, headers=JSON).status_code == 201


#
# Finding 6 (sizes): a size no column holds is a 400, nothing stored
#
@pytest.mark.parametrize(
    "entry",
    [
        {"key": "l.bin", "size": 10**30},
        {"key": "m.bin", "size": 10**30, "transfer": {"type": "M", "parts": 2}},
        {
            "key": "p.bin",
            "size": 10,
            "transfer": {"type": "M", "parts": 1, "part_size": 10**30},
        },
        {
            "key": "r.bin",
            "size": 10**30,
            "transfer": {"type": "R", "url": "https://example.org/x"},
        },
        {"key": "n.bin", "size": -1},
    ],
)
def test_a_size_no_column_holds_is_refused(
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    entry: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        client.application.config, "RECORDS_FILES_REMOTE_ALLOWED_HOSTS", ["example.org"]
    )
    pid = create_record(client)
    response = init(client, pid, [{"key": "first.bin"}, entry])
    assert response.status_code == 400, response.data
    assert response.json["status"] == 400
    assert response.json["message"].startswith("File 1: ")
    assert db.session.query(FileTransfer).count() == 0
    record = stored_record(pid)
    assert record.files.keys == [] and record.files.bucket.size == 0


def test_reservations_past_what_a_bucket_holds_are_refused(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    half = 2**62
    response = init(
        client, pid, [{"key": "a", "size": half}, {"key": "b", "size": half}]
    )
    assert response.status_code == 400, response.data
    assert response.json["status"] == 400
    assert stored_record(pid).files.bucket.size == 0


#
# Finding 7: reserved metadata names, on every path
#
@pytest.mark.parametrize("name", ["_extracted", "checksum", "size", "key"])
@pytest.mark.parametrize("kind", ["L", "R", "M"])
def test_announce_refuses_reserved_metadata(
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    kind: str,
) -> None:
    monkeypatch.setitem(
        client.application.config, "RECORDS_FILES_REMOTE_ALLOWED_HOSTS", ["example.org"]
    )
    transfer = {
        "L": {"type": "L"},
        "R": {"type": "R", "url": "https://example.org/x"},
        "M": {"type": "M", "parts": 1},
    }[kind]
    pid = create_record(client)
    entry = {
        "key": "f.bin",
        "size": 3,
        "metadata": {name: "forged"},
        "transfer": transfer,
    }
    response = init(client, pid, [entry])
    assert response.status_code == 400, response.data
    assert response.json["message"].startswith("File 0: ")
    assert "reserved" in response.json["message"]
    assert db.session.query(FileTransfer).count() == 0
    assert stored_record(pid).files.keys == []


def test_python_api_refuses_reserved_metadata(
    db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    with pytest.raises(InvalidTransferError, match="File 0: .*reserved"):
        files_of(record).transfers.init([{"key": "a", "metadata": {"_extracted": {}}}])
    request = TransferRequest(key="b", metadata={"_extracted": {"width": 1}})
    with pytest.raises(InvalidTransferError, match="File 0: .*reserved"):
        PendingWriter(files_of(record).bucket).announce([request])
    files_of(record)["c"] = BytesIO(b"c")
    for name in ("_extracted", "checksum"):
        with pytest.raises(InvalidMetadataError):
            files_of(record)["c"][name] = "forged"
    assert (
        "checksum" not in files_of(record)["c"].data
        or files_of(record)["c"]["checksum"] != "forged"
    )


#
# Finding 10: locking with open multipart uploads; gc of abandoned uploads
#
def start_files_rest_upload(
    client: IsolatedClient,
    pid: str,
    key: str,
    size: int = 10,
    part_size: int = PART,
    parts: int = 1,
) -> str:
    """Start a ``?uploads`` upload and send its first ``parts`` parts."""
    base = files_url(pid, key)
    started = client.post(
        "{0}?uploads&size={1}&partSize={2}".format(base, size, part_size)
    )
    assert started.status_code == 200, started.json
    upload_id = started.json["id"]
    for number in range(parts):
        client.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=b"x" * part_size,
            headers={"Content-Type": "application/octet-stream"},
        )
    return "{0}?uploadId={1}".format(base, upload_id)


def test_lock_aborts_open_uploads_and_gives_their_size_back(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", PART)
    pid = create_record(client)
    upload(client, pid, "kept.txt", b"260 bytes" * 10)
    one = start_files_rest_upload(
        client, pid, "big.bin", size=2 * 10**6, part_size=10**6
    )
    two = start_files_rest_upload(client, pid, "other.bin", size=10)
    record = stored_record(pid)
    assert record.files.bucket.size == 90 + 2 * 10**6 + 10
    assert len(storage_files(location.uri)) == 3
    record.files.lock()
    db.session.commit()

    record = stored_record(pid)
    assert record.files.bucket.size == 90
    assert db.session.query(MultipartObject).count() == 0
    assert len(storage_files(location.uri)) == 1
    assert record.files.keys == ["kept.txt"]
    # Listing the parts of an upload of a locked record: 403, "locked" (the
    # lock aborted it; a writer could not go on with it anyway).
    for url in (one, two):
        listed = client.get(url)
        assert listed.status_code == 403, listed.json
        assert "locked" in listed.json["message"].lower()
    record.files.unlock()
    db.session.commit()
    assert client.get(one).status_code == 404


def test_lock_keeps_three_step_pending_files(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "l.txt", "size": 4}])
    record = stored_record(pid)
    record.files.lock()
    db.session.commit()
    assert [f.key for f in stored_record(pid).files.transfers.pending()] == ["l.txt"]


def age_uploads(db: SQLAlchemy, days: float) -> None:
    """Make every Files-REST upload and part look untouched for ``days`` days."""
    then = datetime.utcnow() - timedelta(days=days)
    db.session.execute(update(MultipartObject).values(updated=then, created=then))
    db.session.execute(update(Part).values(updated=then, created=then))
    db.session.execute(update(FileTransfer).values(updated=then))
    db.session.commit()


def test_gc_aborts_abandoned_uploads_of_both_protocols(
    app: Flask,
    cli: Callable[..., Result],
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", PART)
    pid = create_record(client)
    start_files_rest_upload(client, pid, "rest.bin", size=10, parts=1)
    init(client, pid, [multipart("m.bin", payload(10), 2, 5)])
    # A locked bucket (soft-deleted, say) keeps them too.
    bucket = stored_record(pid).files.bucket
    bucket.locked = True
    db.session.commit()
    assert stored_record(pid).files.bucket.size == 20
    age_uploads(db, 8)
    start_files_rest_upload(client, create_record(client), "fresh.bin", size=10)

    dry = cli("gc")
    assert dry.exit_code == 0, dry.output
    assert "Abandoned multipart upload" in dry.output and "'rest.bin'" in dry.output
    assert "fresh.bin" not in dry.output
    assert "Abandoned pending file 'm.bin'" in dry.output
    assert db.session.query(MultipartObject).count() == 2

    done = cli("gc", "--delete", "--min-age", "0")
    assert done.exit_code == 0, done.output
    assert "Aborted 1 abandoned multipart uploads." in done.output
    assert "Deleted 1 abandoned pending files." in done.output
    assert [m.key for m in db.session.query(MultipartObject)] == ["fresh.bin"]
    assert db.session.query(FileTransfer).count() == 0
    assert stored_record(pid).files.bucket.size == 0
    assert len(storage_files(location.uri)) == 1


#
# The shape: schemas keep the messages' quality
#
MAX = "9223372036854775807"


@pytest.mark.parametrize(
    "body,message",
    [
        (
            [{"key": "a"}, {"key": "b"}, {"key": "c"}, {"key": "d", "description": 1}],
            "File 3: unknown field(s): description.",
        ),
        (
            [{"key": "a", "transfer": {"type": "L", "url": "https://x.org/"}}],
            "File 0: unknown transfer field(s) for type L: url.",
        ),
        (
            [{"key": "a", "size": 4, "transfer": {"type": "M", "parts": 1, "x": 1}}],
            "File 0: unknown transfer field(s) for type M: x.",
        ),
        (
            [{"key": "a", "transfer": {"type": "F"}}],
            "File 0: a F transfer needs a 'url'.",
        ),
        (
            [{"key": "a", "transfer": {"type": "M", "parts": 2}}],
            "File 0: a multipart transfer needs the file's 'size'.",
        ),
        (
            [{"key": "a", "size": 3, "transfer": {"type": "M"}}],
            "File 0: a multipart transfer needs 'parts'.",
        ),
        (
            [{"key": "a", "size": 3, "transfer": {"type": "M", "parts": 0}}],
            "File 0: 'parts' must be a whole number from 1 to {0}.".format(MAX),
        ),
        (
            [
                {
                    "key": "a",
                    "size": 10,
                    "transfer": {"type": "M", "parts": 2, "part_size": 3},
                }
            ],
            "File 0: 2 parts of 3 bytes cannot hold 10 bytes (every part but the "
            "last is 'part_size' bytes long).",
        ),
        (
            [{"key": "a", "size": "1"}],
            "File 0: 'size' must be a whole number from 0 to {0}.".format(MAX),
        ),
        (
            [{"key": "a", "transfer": {"type": "X"}}],
            "File 0: unknown transfer type 'X' (one of L, F, R, M).",
        ),
        ([{"size": 1}], "File 0: 'key' is required."),
        ([{"key": "a", "transfer": "F"}], "File 0: 'transfer' must be an object."),
        ([{"key": "a", "metadata": [1]}], "File 0: 'metadata' must be an object."),
        (
            [{"key": "a", "checksum": "sha1:00"}],
            "File 0: 'checksum' must look like 'md5:<32 hex digits>' or "
            "'sha256:<64 hex digits>' (algorithms: md5, sha1, sha256, sha512, "
            "blake2b).",
        ),
        (
            [{"key": "a", "transfer": {"type": "R", "url": "ftp://example.org/x"}}],
            "File 0: Only http:// and https:// URLs can be transferred.",
        ),
    ],
)
def test_announce_errors_name_the_file_and_the_field(
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    body: list[dict[str, Any]],
    message: str,
) -> None:
    pid = create_record(client)
    response = client.post(files_url(pid), data=json.dumps(body), headers=JSON)
    assert response.status_code == 400, response.json
    assert response.json["message"] == message
    assert db.session.query(FileTransfer).count() == 0


@pytest.mark.parametrize("query", ["size={0}&partSize=4", "size=8&partSize={0}"])
def test_files_rest_multipart_of_ten_to_the_thirty_is_a_400(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
) -> None:
    """Finding 6 (sizes), Files-REST's protocol: refused before anything is stored."""
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", PART)
    pid = create_record(client)
    url = files_url(pid, "m.bin") + "?uploads&" + query.format(10**30)
    response = client.post(url)
    assert response.status_code == 400, response.data
    assert response.json["status"] == 400
    assert db.session.query(MultipartObject).count() == 0
    assert stored_record(pid).files.bucket.size == 0
