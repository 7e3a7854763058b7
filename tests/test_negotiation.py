"""``GET <files route>/<key>``: the bytes for downloads, the entry for JSON clients."""

import hashlib
from typing import Optional

import pytest
from flask_sqlalchemy import SQLAlchemy

from tests.helpers import IsolatedClient, create_record, init, upload

BROWSER = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,*/*;q=0.8"
)


@pytest.fixture()
def pid(client: IsolatedClient, db: SQLAlchemy) -> str:
    pid = create_record(client)
    assert upload(client, pid, "data.json", b'{"a": 1}').status_code == 200
    return pid


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", BROWSER, "application/json, */*;q=0.1", "application/*", "text/csv"],
)
def test_downloads_get_the_bytes(
    client: IsolatedClient, pid: str, accept: Optional[str]
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/records/{0}/files/data.json".format(pid), headers=headers)
    assert response.status_code == 200
    assert response.data == b'{"a": 1}'
    assert "Accept" in response.headers["Vary"]


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/plain"])
def test_json_clients_get_the_entry(
    client: IsolatedClient, pid: str, accept: str
) -> None:
    response = client.get(
        "/records/{0}/files/data.json".format(pid), headers={"Accept": accept}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "Accept" in response.headers["Vary"]
    entry = response.json
    assert entry["key"] == "data.json"
    assert entry["size"] == 8
    assert entry["checksum"] == "md5:" + hashlib.md5(b'{"a": 1}').hexdigest()
    assert entry["status"] == "completed"
    assert entry["mimetype"] == "application/json"
    assert set(entry["links"]) >= {"self", "content", "commit"}
    assert entry["links"]["content"].endswith(
        "/records/{0}/files/data.json/content".format(pid)
    )


def test_content_route_and_query_arguments_always_answer_bytes(
    client: IsolatedClient, pid: str
) -> None:
    json_only = {"Accept": "application/json"}
    for path in ("/content", "?download"):
        response = client.get(
            "/records/{0}/files/data.json{1}".format(pid, path), headers=json_only
        )
        assert response.status_code == 200, path
        assert response.data == b'{"a": 1}', path


def test_entry_of_a_pending_file_and_of_none(client: IsolatedClient, pid: str) -> None:
    json_only = {"Accept": "application/json"}
    assert init(client, pid, [{"key": "later.bin"}]).status_code == 201
    pending = client.get("/records/{0}/files/later.bin".format(pid), headers=json_only)
    assert pending.status_code == 200
    assert pending.json["status"] == "pending"
    assert set(pending.json["links"]) >= {"self", "content", "commit"}
    missing = client.get("/records/{0}/files/none.bin".format(pid), headers=json_only)
    assert missing.status_code == 404
    assert missing.json["status"] == 404


def test_head_with_json_accept(client: IsolatedClient, pid: str) -> None:
    response = client.head(
        "/records/{0}/files/data.json".format(pid),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
