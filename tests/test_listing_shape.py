"""The listing built from rows says what the schemas said, link for link.

``GET <record>/files`` writes its body from the page's rows
(``rest/listing_json.py``) with links from per-request templates
(``url_templates.py``). Here the same page is also written the way it was
before: ORM objects through the marshmallow schemas of ``serializer.py``
and InvenioRDM entries from ``FileObject``s, every link from ``url_for``.
Both must be equal, on the record's routes, on Invenio-Files-REST's
routes, behind ``SITE_API_URL``, with keys that need quoting, tags, user
metadata, a remote file and pending files. A page, and a record read with
its inline ``_files``, cost the same statements whatever their size; the
record's dump is still a copy of what the record shows.
"""

import json
from copy import deepcopy
from typing import Any, Optional
from urllib.parse import quote

import pytest
from flask import Flask
from invenio_db import db as db_
from invenio_files_rest.models import ObjectVersion, ObjectVersionTag

from invenio_records_files_ext.files import queries
from invenio_records_files_ext.rest import url_templates
from invenio_records_files_ext.rest.rdm import EntryLinks, completed_entry
from invenio_records_files_ext.serializer import json_serializer
from tests.helpers import (
    IsolatedClient,
    bucket_of,
    counting_statements,
    create_record,
    files_url,
    init,
    stored_record,
    upload,
)

KEYS = (
    "plain.txt",
    "a b/c d.csv",
    "é ü/ñ.txt",
    "50%.csv",
    "plus+amp&eq=.txt",
    "~t;i,l'd(e)!*$@:.bin",
    "emoji 😀.png",
    "noextension",
    "archive.tar.gz",
    "deep/er/path/x.json",
)


def _by_url_for(
    endpoint: str, values: tuple[tuple[str, Any], ...]
) -> url_templates.KeyURL:
    # What every link was before the templates: one url_for each.
    return url_templates.KeyURL(endpoint, values, "", "", None)


def expected_body(
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    pid: str,
    size: int,
    after: Optional[str] = None,
    on_record: bool = True,
) -> dict[str, Any]:
    """The page as the schemas and ``url_for`` write it."""
    record = stored_record(pid)
    bucket = record.bucket
    with monkeypatch.context() as patch:
        patch.setattr(url_templates, "_build", _by_url_for)
        with app.test_request_context(path):
            page = queries.page(
                bucket.id, size, after=queries.Cursor.decode(after) if after else None
            )
            endpoint = "recid" if on_record else None
            context = {"endpoint": endpoint, "pid_value": pid} if on_record else {}
            links = EntryLinks(endpoint, pid if on_record else None)
            entries = [
                completed_entry(record.files._make_file(obj, data), links)
                for obj, data in page.items
            ]
            response = json_serializer(
                data=[obj for obj, _ in page.items],
                context=dict(
                    context,
                    **{
                        "class": ObjectVersion,
                        "bucket": bucket,
                        "many": True,
                        "listing_extra": {"enabled": True, "entries": entries},
                    },
                ),
            )
            body: dict[str, Any] = json.loads(response.get_data())
            return body


def _completed(body: dict[str, Any]) -> dict[str, Any]:
    """The body, pending entries left out (they are not built from rows)."""
    body = dict(body)
    body["entries"] = [e for e in body["entries"] if e["status"] == "completed"]
    body["links"] = {
        k: v for k, v in body["links"].items() if k not in ("next", "prev")
    }
    return body


@pytest.fixture()
def shaped(app: Flask, client: IsolatedClient, monkeypatch: pytest.MonkeyPatch) -> str:
    """A record with keys to quote, tags, metadata, a remote and a pending file."""
    monkeypatch.setitem(
        app.config, "RECORDS_FILES_REMOTE_ALLOWED_HOSTS", ["data.example.org"]
    )
    pid = create_record(client)
    for index, key in enumerate(KEYS):
        answer = upload(client, pid, quote(key), b"x" * (index + 1))
        assert answer.status_code == 200, (key, answer.data)
    remote = {
        "key": "remote.dat",
        "size": 5,
        "transfer": {"type": "R", "url": "https://data.example.org/remote.dat"},
    }
    assert init(client, pid, [remote, {"key": "pending.bin"}]).status_code == 201
    record = stored_record(pid)
    record.files["a b/c d.csv"]["description"] = {"nested": [1, "two"]}
    obj = ObjectVersion.get(record.bucket.id, "plain.txt")
    ObjectVersionTag.create(obj, "colour", "blue")
    ObjectVersionTag.create(obj, "shape", "round")
    db_.session.commit()
    return pid


@pytest.mark.parametrize("size", [3, 1000])
def test_listing_equals_the_schemas_output(
    app: Flask,
    client: IsolatedClient,
    shaped: str,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    pid = shaped
    path = files_url(pid) + "?size={0}".format(size)
    response = client.get(path)
    assert response.status_code == 200, response.data
    body = response.json
    expected = expected_body(app, monkeypatch, path, pid, size)
    assert _completed(body) == _completed(expected)
    # The page's pending file comes first, only on the first page.
    assert [e["key"] for e in body["entries"] if e["status"] != "completed"] == [
        "pending.bin"
    ]
    keys = [item["key"] for item in body["contents"]]
    assert "remote.dat" in keys or size == 3
    if size == 3:
        after = body["links"]["next"].split("after=")[1]
        second = client.get(files_url(pid) + "?size=3&after=" + after)
        assert second.status_code == 200
        assert _completed(second.json) == _completed(
            expected_body(app, monkeypatch, path, pid, 3, after=after)
        )
        assert [e["status"] for e in second.json["entries"]] == ["completed"] * 3


def test_every_link_quotes_like_url_for(
    app: Flask, client: IsolatedClient, shaped: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = shaped
    body = client.get(files_url(pid)).json
    expected = expected_body(app, monkeypatch, files_url(pid), pid, 1000)
    links = [item["links"] for item in body["contents"]] + [
        entry["links"] for entry in body["entries"] if entry["status"] == "completed"
    ]
    assert links == [item["links"] for item in expected["contents"]] + [
        entry["links"] for entry in expected["entries"]
    ]
    assert "http://localhost/records/{0}/files/50%25.csv".format(pid) in {
        link["self"] for link in links
    }


def test_listing_behind_site_api_url(
    app: Flask, client: IsolatedClient, shaped: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SITE_API_URL", "https://example.org/api")
    pid = shaped
    body = client.get(files_url(pid)).json
    assert body["contents"][0]["links"]["self"].startswith(
        "https://example.org/api/records/{0}/files/".format(pid)
    )
    expected = expected_body(app, monkeypatch, files_url(pid), pid, 1000)
    assert _completed(body) == _completed(expected)


def test_listing_on_files_rest_routes(
    app: Flask, client: IsolatedClient, shaped: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = shaped
    bucket_id = bucket_of(pid)
    response = client.get("/files/{0}".format(bucket_id))
    assert response.status_code == 200, response.data
    expected = expected_body(app, monkeypatch, files_url(pid), pid, 1000)
    assert _completed(response.json) == _completed(expected)


def test_prettyprint_is_kept(client: IsolatedClient, shaped: str) -> None:
    response = client.get(files_url(shaped) + "?prettyprint=1")
    assert response.status_code == 200
    assert b'\n  "contents": [' in response.data


def test_a_page_costs_the_same_statements_at_any_size(
    app: Flask, client: IsolatedClient, shaped: str
) -> None:
    pid = shaped
    small = create_record(client)
    for key in ("a.txt", "b.txt", "c.txt"):
        assert upload(client, small, key, b"abc").status_code == 200
    counts = {}
    for name, record_pid in (("small", small), ("shaped", pid)):
        for size in (1, 3, 1000):
            db_.session.commit()
            with counting_statements() as counter:
                response = client.get(files_url(record_pid) + "?size={0}".format(size))
            assert response.status_code == 200
            counts[name, size] = counter.count
    # The same at any size; a page whose files have tags reads them in one
    # more statement (``shaped``'s have, ``small``'s none).
    untagged = counts["small", 1]
    assert {counts["small", size] for size in (1, 3, 1000)} == {untagged}, counts
    assert {counts["shaped", size] for size in (1, 3, 1000)} == {untagged + 1}, counts


def test_record_dump_copies_the_inline_files(
    app: Flask, client: IsolatedClient, shaped: str
) -> None:
    record = stored_record(shaped)
    shown = deepcopy(dict(record))  # the dump before: a deep copy of the dict
    dump = record.dumps()
    assert {k: v for k, v in dump.items() if k != "_files_summary"} == shown
    assert dump["_files_summary"]["count"] == len(shown["_files"])
    # A copy: changing the dump changes nothing of the record, which still
    # shows its files.
    entry = next(e for e in dump["_files"] if e["key"] == "a b/c d.csv")
    entry["description"]["nested"].append(3)
    dump["_files"].pop()
    again = dict(record)
    assert again["_files"] == shown["_files"]
    assert record.dumps()["_files"] == shown["_files"]


def test_record_read_shows_its_files_at_a_constant_cost(
    app: Flask, client: IsolatedClient, shaped: str
) -> None:
    small = create_record(client)
    assert upload(client, small, "a.txt", b"abc").status_code == 200
    counts = {}
    for pid in (small, shaped):
        db_.session.commit()
        with counting_statements() as counter:
            response = client.get("/records/{0}".format(pid))
        assert response.status_code == 200
        counts[pid] = counter.count
        files = response.json["metadata"]["_files"]
        assert [e["key"] for e in files] == [
            e["key"] for e in stored_record(pid).files.dumps()
        ]
    assert len(set(counts.values())) == 1, counts


def test_pages_forward_and_back(
    app: Flask, client: IsolatedClient, shaped: str
) -> None:
    pid = shaped
    everything = [item["key"] for item in client.get(files_url(pid)).json["contents"]]
    forward, url = [], files_url(pid) + "?size=4"
    while url:
        body = client.get(url).json
        forward.append([item["key"] for item in body["contents"]])
        entries = [e["key"] for e in body["entries"] if e["status"] == "completed"]
        assert entries == forward[-1]
        url = body["links"].get("next", "").replace("http://localhost", "")
        last = body
    assert [key for page in forward for key in page] == everything
    backward: list[list[str]] = []
    url = last["links"]["prev"].replace("http://localhost", "")
    while url:
        body = client.get(url).json
        backward.insert(0, [item["key"] for item in body["contents"]])
        url = body["links"].get("prev", "").replace("http://localhost", "")
    assert backward == forward[:-1]
    # A page reached backwards links to the page after it.
    assert "next" in body["links"]
