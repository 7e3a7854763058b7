"""Pending files are their writers' business (issue 18, findings 1 and 2).

On a public record, readers (anonymous, or logged in without the right to
update) see completed files only, on the record's listing and on
Files-REST's ``/files/<bucket>``; part URLs appear in the announcing
writer's answer and in writers' listings. A failed fetch names the source
by scheme and host only.
"""

import json
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from tests.helpers import (
    JSON,
    IsolatedClient,
    JSONResponse,
    bucket_of,
    create_record,
    fetch_entry,
    files_url,
    multipart,
    payload,
    put_content,
)
from tests.httpserver import SourceServer
from tests.users import as_user

OWNER = as_user("alice")
PUBLIC = {"title": "public", "owners": ["alice"], "public": True}


def _announce(
    client: IsolatedClient, pid: str, entries: list[dict[str, Any]]
) -> JSONResponse:
    return client.post(
        files_url(pid), data=json.dumps(entries), headers={**JSON, **OWNER}
    )


def _pending_record(client: IsolatedClient) -> tuple[str, Any]:
    pid = create_record(client, PUBLIC)
    done = _announce(client, pid, [{"key": "done.txt"}])
    assert done.status_code == 201, done.json
    assert put_content(client, pid, "done.txt", b"done", **OWNER).status_code == 200
    committed = client.post(files_url(pid, "done.txt", "commit"), headers=OWNER)
    assert committed.status_code == 200, committed.json
    announced = _announce(
        client,
        pid,
        [
            {"key": "local.txt", "size": 5, "metadata": {"secret": "draft"}},
            multipart("parts.bin", payload(100), 2, 50),
        ],
    )
    assert announced.status_code == 201, announced.json
    return pid, announced.json


def _listings(client: IsolatedClient, pid: str, headers: dict[str, str]) -> list[Any]:
    return [
        client.get(files_url(pid), headers=headers).json,
        client.get("/files/" + bucket_of(pid), headers=headers).json,
    ]


def test_readers_see_completed_files_only(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid, announced = _pending_record(secured)
    # The writer who announced gets the part links.
    by_key = {entry["key"]: entry for entry in announced["entries"]}
    assert len(by_key["parts.bin"]["links"]["parts"]) == 2
    for headers in ({}, as_user("bob")):
        for listing in _listings(secured, pid, headers):
            assert [e["key"] for e in listing["entries"]] == ["done.txt"], listing
            assert [e["status"] for e in listing["entries"]] == ["completed"]
            text = json.dumps(listing)
            for hidden in ("local.txt", "parts.bin", "parts", "draft", "pending"):
                assert hidden not in text, (hidden, listing)


def test_writers_see_pending_files_and_part_links(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid, _ = _pending_record(secured)
    for listing in _listings(secured, pid, OWNER):
        entries = {entry["key"]: entry for entry in listing["entries"]}
        assert set(entries) == {"done.txt", "local.txt", "parts.bin"}
        assert entries["local.txt"]["status"] == "pending"
        assert entries["local.txt"]["metadata"] == {"secret": "draft"}
        assert len(entries["parts.bin"]["links"]["parts"]) == 2


def test_failed_fetch_names_scheme_and_host_only(
    secured: IsolatedClient, db: SQLAlchemy, location: Location, fetching: SourceServer
) -> None:
    pid = create_record(secured, PUBLIC)
    origin = fetching.base
    url = "http://user:s3cret@{0}/files/private-name.bin?token=t0ken".format(
        origin.removeprefix("http://")
    )
    response = _announce(secured, pid, [fetch_entry(url)])
    assert response.status_code == 201, response.json
    [entry] = client_entries(secured, pid, OWNER)
    assert entry["status"] == "failed", entry
    error = entry["transfer"]["error"]
    assert origin in error, error
    assert "HTTP 404" in error
    for secret in ("s3cret", "user", "t0ken", "token", "private-name", "/files"):
        assert secret not in error, (secret, error)
    # The error (and the failed file) are for writers only.
    for headers in ({}, as_user("bob")):
        for listing in _listings(secured, pid, headers):
            assert listing["entries"] == [], listing


def test_failed_redirected_fetch_names_the_last_origin(
    client: IsolatedClient, db: SQLAlchemy, fetching: SourceServer
) -> None:
    pid = create_record(client)
    target = fetching.url("/files/gone.bin?sig=abc")
    url = fetching.url("/redirect?to=" + target.replace("?", "%3F"))
    assert (
        client.post(
            files_url(pid), data=json.dumps([fetch_entry(url)]), headers=JSON
        ).status_code
        == 201
    )
    [entry] = client.get(files_url(pid)).json["entries"]
    error = entry["transfer"]["error"]
    assert error.startswith(fetching.base + " answered HTTP 404"), error
    assert "gone.bin" not in error and "sig" not in error and "redirect" not in error


def client_entries(client: IsolatedClient, pid: str, headers: dict[str, str]) -> Any:
    """The entries of the record's listing, as ``headers`` sees them."""
    return client.get(files_url(pid), headers=headers).json["entries"]
