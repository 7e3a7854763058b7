"""The demo's page and its routes beyond the REST API (``examples/actions.py``).

Each route calls the library and answers JSON; bad requests get a JSON
error with the right status and change nothing.
"""

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_pidstore.models import PersistentIdentifier, PIDStatus

from invenio_records_files_ext.api import Record
from tests.helpers import BucketRecord, IsolatedClient, create_record, upload


@pytest.fixture(scope="module")
def app(demo_app: Flask) -> Flask:
    """This module is about the demo: its application serves the requests."""
    return demo_app


def url(pid: str, action: str) -> str:
    return "/demo/records/{0}/{1}".format(pid, action)


def record_of(pid: str) -> BucketRecord:
    record: BucketRecord = Record.get_record(
        PersistentIdentifier.get("recid", pid).object_uuid, with_deleted=True
    )
    return record


@pytest.fixture()
def pid(client: IsolatedClient, db: SQLAlchemy) -> str:
    """A record with files a.txt, b.txt and c.txt, in this order."""
    value = create_record(client, {"title": "Three files"})
    for key in ("a.txt", "b.txt", "c.txt"):
        assert upload(client, value, key, key.encode()).status_code == 200
    return value


def test_the_page_is_served_at_the_root(client: IsolatedClient, db: SQLAlchemy) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert b'<script type="module" src="/page/app.js">' in page.data
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for name in ("app.js", "api.js", "uploads.js", "style.css"):
        assert client.get("/page/" + name).status_code == 200, name


def test_rename_and_describe_in_one_request(client: IsolatedClient, pid: str) -> None:
    response = client.patch(
        url(pid, "file"),
        json={
            "key": "b.txt",
            "rename_to": "notes/b.txt",
            "metadata": {"description": "Notes", "lang": "en"},
        },
    )
    assert response.status_code == 200, response.json
    assert response.json == {
        "key": "notes/b.txt",
        "metadata": {"description": "Notes", "lang": "en"},
    }
    record = record_of(pid)
    assert record.files.keys == ["a.txt", "notes/b.txt", "c.txt"]
    assert record.files["notes/b.txt"]["description"] == "Notes"
    # null removes a value.
    response = client.patch(
        url(pid, "file"), json={"key": "notes/b.txt", "metadata": {"lang": None}}
    )
    assert response.json["metadata"] == {"description": "Notes"}


def test_bad_edits_change_nothing(client: IsolatedClient, pid: str) -> None:
    cases = [
        ({"key": "a.txt", "rename_to": "b.txt"}, 409),
        ({"key": "missing.txt", "metadata": {"description": "x"}}, 404),
        ({"key": "a.txt", "rename_to": "../x"}, 400),
        ({"key": "a.txt", "metadata": "x"}, 400),
        ({"rename_to": "x.txt"}, 400),
        (["a.txt"], 400),
    ]
    for body, status in cases:
        response = client.patch(url(pid, "file"), json=body)
        assert response.status_code == status, (body, response.json)
        assert response.json["status"] == status and response.json["message"]
    # A rename that fails on its metadata leaves the name too.
    response = client.patch(
        url(pid, "file"),
        json={"key": "a.txt", "rename_to": "z.txt", "metadata": {"": 1}},
    )
    assert response.status_code == 400
    assert record_of(pid).files.keys == ["a.txt", "b.txt", "c.txt"]
    assert client.patch(url("404", "file"), json={"key": "a.txt"}).status_code == 404


def test_reorder(client: IsolatedClient, pid: str) -> None:
    response = client.put(url(pid, "order"), json={"keys": ["c.txt", "a.txt"]})
    assert response.status_code == 200
    assert response.json == {"keys": ["c.txt", "a.txt", "b.txt"]}
    assert record_of(pid).files.keys == ["c.txt", "a.txt", "b.txt"]
    for body, status in (
        ({"keys": ["nope.txt"]}, 404),
        ({"keys": "a.txt"}, 400),
        ({"keys": ["a.txt", "a.txt"]}, 400),
    ):
        assert client.put(url(pid, "order"), json=body).status_code == status, body
    assert record_of(pid).files.keys == ["c.txt", "a.txt", "b.txt"]


def test_lock_refuses_changes_until_unlocked(client: IsolatedClient, pid: str) -> None:
    assert client.put(url(pid, "lock")).json == {"locked": True}
    assert client.put(url(pid, "order"), json={"keys": ["c.txt"]}).status_code == 403
    assert client.patch(url(pid, "file"), json={"key": "a.txt"}).status_code == 403
    assert upload(client, pid, "d.txt", b"d").status_code == 403
    assert client.delete(url(pid, "lock")).json == {"locked": False}
    assert upload(client, pid, "d.txt", b"d").status_code == 200


def test_new_version_shares_the_bytes_and_links_both_ways(
    client: IsolatedClient, pid: str
) -> None:
    client.patch(url(pid, "file"), json={"key": "a.txt", "metadata": {"n": 1}})
    client.put(url(pid, "lock"))
    response = client.post(url(pid, "versions"))
    assert response.status_code == 201
    new_pid = response.json["id"]
    assert response.json["files"] == ["a.txt", "b.txt", "c.txt"]
    old, new = record_of(pid), record_of(new_pid)
    assert new["previous_version"] == pid and old["next_version"] == new_pid
    assert [f.file_id for f in new.files] == [f.file_id for f in old.files]
    assert new.files["a.txt"]["n"] == 1
    assert not new.files.locked and old.files.locked
    listed = client.get("/records/{0}".format(new_pid)).json["metadata"]
    assert listed["previous_version"] == pid


def test_new_version_without_files_imports_them_on_request(
    client: IsolatedClient, pid: str
) -> None:
    response = client.post(url(pid, "versions"), json={"import_files": False})
    assert response.status_code == 201
    new_pid = response.json["id"]
    assert response.json["files"] == []
    imported = client.post("/records/{0}/actions/files-import".format(new_pid))
    assert imported.status_code == 201, imported.json
    assert [e["key"] for e in imported.json["entries"]] == ["a.txt", "b.txt", "c.txt"]
    assert record_of(new_pid).files.keys == ["a.txt", "b.txt", "c.txt"]
    again = client.post("/records/{0}/actions/files-import".format(new_pid))
    assert again.status_code == 400


def test_delete_then_restore(client: IsolatedClient, pid: str) -> None:
    client.put(url(pid, "lock"))
    assert client.post(url(pid, "restore")).status_code == 409
    assert client.delete("/records/{0}".format(pid)).status_code == 204
    assert client.get("/records/{0}".format(pid)).status_code == 410
    # A deleted record's files cannot change, even through the demo's routes.
    assert client.put(url(pid, "order"), json={"keys": ["c.txt"]}).status_code == 410
    assert client.post(url(pid, "versions")).status_code == 410
    response = client.post(url(pid, "restore"))
    assert response.status_code == 200, response.json
    assert response.json == {"id": pid, "locked": True}
    restored = client.get("/records/{0}".format(pid))
    assert restored.status_code == 200
    assert restored.json["metadata"]["title"] == "Three files"
    assert [f["key"] for f in restored.json["metadata"]["_files"]] == [
        "a.txt",
        "b.txt",
        "c.txt",
    ]
    assert PersistentIdentifier.get("recid", pid).status == PIDStatus.REGISTERED
