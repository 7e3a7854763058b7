"""Issue 20, items 3-8: bounded container listings, damage before and after
the first byte, remote files, the archive's length, restricted entries and
Range as RFC 9110 reads it.

Through the Flask client here; the same through gunicorn and waitress at
the end of the module (``tests/servers.py``). Run on SQLite and on PostgreSQL
(``SQLALCHEMY_DATABASE_URI``).
"""

import io
import json
import logging
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional, cast

import pytest
import requests
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.archives import archive, containers, zipreader, zipwriter
from invenio_records_files_ext.records.dumpers import add_files_to_index
from invenio_records_files_ext.storage.reads import RandomAccess
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    files_of,
    init,
    stored_record,
    stream,
    upload,
)
from tests.servers import Server
from tests.users import as_user

REMOTE_URL = "https://data.example.org/big.zip"

Fetch = Callable[[str], tuple[Any, int]]
"""Fetch a container listing page: its JSON body and its length in bytes."""


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    containers.cache.clear()
    yield
    containers.cache.clear()


def zip_of(compression: int = zipfile.ZIP_DEFLATED, /, **members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def invalid_names_zip(count: int = 240, length: int = 3990) -> bytes:
    """A zip whose ``count`` member names are ``length`` bytes of invalid UTF-8.

    The UTF-8 flag is set (the names start with ``é``); each ``\\xff`` reads
    as U+FFFD, escaped in JSON as six bytes and in a URL as nine.
    """
    filler = b"X" * length
    names = {"\u00e9{0:04d}".format(i) + "X" * length: b"n" for i in range(count)}
    data = zip_of(zipfile.ZIP_STORED, **names)
    return data.replace(filler, b"\xff" * length)


def damaged_first_block() -> bytes:
    """A deflated member whose compressed data is garbage from its start."""
    data = bytearray(zip_of(a=os.urandom(1000) + b"a" * 100000))
    start = 30 + 1  # local header, the name "a"
    data[start : start + 64] = b"\xff" * 64
    return bytes(data)


def damaged_last_block(size: int = 1024 * 1024) -> bytes:
    """A stored member of ``size`` bytes whose last byte fails its CRC-32."""
    data = bytearray(zip_of(zipfile.ZIP_STORED, big=b"b" * size))
    data[30 + 3 + size - 1] ^= 0xFF
    return bytes(data)


def add_remote(
    app: Flask,
    client: IsolatedClient,
    pid: str,
    monkeypatch: pytest.MonkeyPatch,
    key: str = "far.zip",
    url: str = REMOTE_URL,
) -> None:
    monkeypatch.setitem(
        app.config, "RECORDS_FILES_REMOTE_ALLOWED_HOSTS", ["*.example.org"]
    )
    response = init(
        client, pid, [{"key": key, "size": 1000, "transfer": {"type": "R", "url": url}}]
    )
    assert response.status_code == 201, response.json


def walk_container(fetch: Fetch, url: Optional[str]) -> list[tuple[Any, int]]:
    """Follow a container listing's ``next`` links; return ``(body, bytes)`` pages."""
    pages: list[tuple[Any, int]] = []
    while url:
        body, size = fetch(url)
        pages.append((body, size))
        url = body.get("links", {}).get("next")
    return pages


def flask_fetch(client: IsolatedClient) -> Fetch:
    def fetch(url: str) -> tuple[Any, int]:
        response = client.get(url.replace("http://localhost", ""))
        assert response.status_code == 200, response.data
        return response.json, len(response.data)

    return fetch


def http_fetch(url: str) -> tuple[Any, int]:
    response = requests.get(url)
    assert response.status_code == 200, response.text
    return response.json(), len(response.content)


#
# 3. Container listings: pages, bounded by names' bytes; the cache counts bytes
#
def test_container_listing_pages(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    upload(
        client,
        pid,
        "many.zip",
        zip_of(**{"m{0:03d}".format(i): b"x" for i in range(25)}),
    )
    base = "/records/{0}/files/many.zip/container".format(pid)
    first = client.get(base + "?size=10")
    assert first.status_code == 200
    assert first.json["total"] == 25
    assert [e["key"] for e in first.json["entries"]] == [
        "m{0:03d}".format(i) for i in range(10)
    ]
    pages = walk_container(flask_fetch(client), base + "?size=10")
    assert [len(body["entries"]) for body, _ in pages] == [10, 10, 5]
    keys = [e["key"] for body, _ in pages for e in body["entries"]]
    assert keys == ["m{0:03d}".format(i) for i in range(25)]
    assert "links" not in pages[-1][0]
    whole = client.get(base)
    assert len(whole.json["entries"]) == 25 and "links" not in whole.json
    for bad in ("?size=0", "?size=1001", "?size=x", "?after=nonsense"):
        refused = client.get(base + bad)
        assert refused.status_code == 400, bad
        assert refused.json["status"] == 400


def test_cursor_of_another_version_is_refused(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.zip", zip_of(**{str(i): b"x" for i in range(5)}))
    base = "/records/{0}/files/a.zip/container".format(pid)
    following = client.get(base + "?size=2").json["links"]["next"]
    upload(client, pid, "a.zip", zip_of(**{str(i): b"y" for i in range(5)}))
    assert client.get(following.replace("http://localhost", "")).status_code == 400


def test_invalid_utf8_names_are_listed_in_bounded_pages(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    data = invalid_names_zip()
    assert upload(client, pid, "names.zip", data).status_code == 200
    base = "/records/{0}/files/names.zip/container".format(pid)
    pages = walk_container(flask_fetch(client), base)
    names = [e["key"] for body, _ in pages for e in body["entries"]]
    assert len(names) == 240 and len(set(names)) == 240
    assert all("\ufffd" * 3990 in name for name in names)
    # 128 KiB of names per page: ten names of 11,976 bytes (UTF-8).
    biggest = max(size for _, size in pages)
    assert len(pages) >= 20
    assert biggest < 1024 * 1024, biggest
    assert sum(size for _, size in pages) < 20 * 1024 * 1024


def test_a_member_name_beyond_the_limit_answers_413(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = create_record(client)
    upload(client, pid, "long.zip", zip_of(**{"n" * 5000: b"x"}))
    upload(client, pid, "short.zip", zip_of(**{"n" * 100: b"x"}))
    base = "/records/{0}/files/".format(pid)
    response = client.get(base + "long.zip/container")
    assert response.status_code == 413
    assert "5000 bytes" in response.json["message"]
    assert client.get(base + "short.zip/container").status_code == 200
    monkeypatch.setitem(app.config, "RECORDS_FILES_CONTAINER_MAX_NAME_LENGTH", 50)
    containers.cache.clear()
    assert client.get(base + "short.zip/container").status_code == 413


def test_the_cache_budget_counts_bytes(
    app: Flask, db: SQLAlchemy, location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = Record.create({})
    long_names = {"{0:03d}".format(i) + "L" * 3000: b"x" for i in range(20)}
    short_names = {"{0:03d}".format(i): b"x" for i in range(20)}
    files_of(record)["long.zip"] = stream(zip_of(**long_names))
    files_of(record)["short.zip"] = stream(zip_of(**short_names))
    long_obj = files_of(record)["long.zip"].obj
    short_obj = files_of(record)["short.zip"].obj
    with zipreader_source(short_obj) as source:
        short_memory = zipreader.read_directory(source, containers.limits()).memory()
    # Room for the short directory (20 members) twice, not for the long one
    # (20 members too, but 60 KB of names).
    monkeypatch.setitem(
        app.config, "RECORDS_FILES_CONTAINER_CACHE_BYTES", short_memory * 2
    )
    containers.directory_of(long_obj)
    assert len(containers.cache) == 0
    containers.directory_of(short_obj)
    assert len(containers.cache) == 1
    assert containers.cache.memory == short_memory


def zipreader_source(obj: Any) -> RandomAccess:
    return RandomAccess(obj.file.storage(), int(obj.file.size))


#
# 4. Damage: 400 JSON before the first byte, a cut stream (logged) after
#
def test_damage_in_the_first_block_answers_400_json(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "bad.zip", damaged_first_block()).status_code == 200
    base = "/records/{0}/files/bad.zip/container".format(pid)
    assert client.get(base).status_code == 200  # the table of contents is intact
    response = client.get(base + "/a")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["status"] == 400 and "damaged" in response.json["message"]


def test_damage_found_later_cuts_the_stream_and_is_logged(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, caplog: pytest.LogCaptureFixture
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "late.zip", damaged_last_block()).status_code == 200
    url = "/records/{0}/files/late.zip/container/big".format(pid)
    with caplog.at_level(logging.ERROR):
        response = client.get(url, buffered=False)
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(1024 * 1024)
        with pytest.raises(Exception) as raised:
            # Not buffered: the response's body is its chunks, as bytes.
            b"".join(cast(Iterable[bytes], response.response))
    assert "CRC-32" in str(raised.value)
    assert any("late.zip/big" in r.getMessage() for r in caplog.records)


def test_archive_damaged_before_the_first_byte_answers_json(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"abc")
    with open(stored_record(pid).files["a.txt"].obj.file.uri, "wb") as fp:
        fp.write(b"abcdef")  # the stored bytes no longer match the database
    response = client.get("/records/{0}/files-archive".format(pid))
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert "not the 3 bytes recorded" in response.json["message"]


#
# 5. Remote files: left out of the archive; their containers answer 400
#
def test_remote_files_are_left_out_of_the_archive(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = create_record(client)
    upload(client, pid, "here.txt", b"here")
    add_remote(app, client, pid, monkeypatch)
    assert [f["key"] for f in stored_record(pid)["_files"]] == ["here.txt", "far.zip"]
    response = client.get("/records/{0}/files-archive".format(pid))
    assert response.status_code == 200
    zipped = zipfile.ZipFile(io.BytesIO(response.data))
    assert zipped.namelist() == ["here.txt"]
    assert response.headers["Content-Length"] == str(len(response.data))


def test_containers_of_remote_files_answer_400(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = create_record(client)
    add_remote(app, client, pid, monkeypatch)
    base = "/records/{0}/files/far.zip/container".format(pid)
    for url in (base, base + "/inner.txt"):
        response = client.get(url)
        assert response.status_code == 400, response.data
        assert response.json["status"] == 400
        assert "remote file" in response.json["message"]


#
# 6. The files archive's Content-Length
#
def test_archive_length_is_exact_and_head_gives_it(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    files = {"a.bin": os.urandom(300001), "é/ü.txt": b"accents", "empty": b"x"}
    for key, data in files.items():
        assert upload(client, pid, key, data).status_code == 200
    url = "/records/{0}/files-archive".format(pid)
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(response.data))
    assert zipfile.ZipFile(io.BytesIO(response.data)).testzip() is None
    head = client.head(url)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(response.data))
    empty = create_record(client)
    nothing = client.get("/records/{0}/files-archive".format(empty))
    assert nothing.headers["Content-Length"] == str(len(nothing.data)) == "22"


@pytest.mark.parametrize("zip64_from", [1000, 2**32 - 1])
def test_prepared_length_matches_the_bytes(
    app: Flask, db: SQLAlchemy, location: Location, zip64_from: int
) -> None:
    record: BucketRecord = Record.create({})
    sizes = [1, 2, 999, 1000, 5000]
    files_of(record).update(
        {"f{0}-{1}".format(i, "é" * i): stream(b"z" * n) for i, n in enumerate(sizes)}
    )
    db.session.commit()
    prepared = archive.prepare_archive(
        record.bucket.id, zip64_from=zip64_from, page_size=2
    )
    data = b"".join(prepared.chunks)
    assert prepared.length == len(data)
    zipped = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(len(zipped.read(n)) for n in zipped.namelist()) == sizes


def test_archive_length_beyond_zip64_limits() -> None:
    """Lengths of archives beyond 4 GiB and 65,535 members, without the bytes."""
    writer = zipwriter.ZipStreamWriter(zip64_from=100)
    members = [("m{0}".format(i), 150 if i % 7 == 0 else 3) for i in range(70000)]
    total = 0
    for name, size in members:
        total += sum(len(piece) for piece in writer.member(name, [b"q" * size], size))
    total += len(writer.finish())
    assert zipwriter.archive_length(members, zip64_from=100) == total


def test_files_changed_between_count_and_stream_cut_the_archive(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    from invenio_records_files_ext.errors import ArchiveSizeError

    record: BucketRecord = Record.create({})
    files_of(record)["a.txt"] = stream(b"abc")
    db.session.commit()
    prepared = archive.prepare_archive(record.bucket.id)
    files_of(record)["b.txt"] = stream(b"more")
    db.session.commit()
    with pytest.raises(ArchiveSizeError):
        b"".join(prepared.chunks)


#
# 7. Restricted files: readers without access see the visible fields only
#
RESTRICTED = {
    "title": "metadata open, files closed",
    "public": True,
    "owners": ["alice"],
    "access": {"record": "public", "files": "restricted"},
}


def restricted_record(client: IsolatedClient) -> str:
    pid = create_record(client, RESTRICTED)
    owner = as_user("alice")
    assert upload(client, pid, "a.txt", b"abc", **owner).status_code == 200
    assert upload(client, pid, "b.zip", zip_of(x=b"x"), **owner).status_code == 200
    return pid


def test_restricted_entries_show_the_key_only(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = restricted_record(secured)
    url = "/records/{0}".format(pid)
    for headers in ({}, as_user("bob")):
        metadata = secured.get(url, headers=headers).json["metadata"]
        assert metadata["_files"] == [{"key": "a.txt"}, {"key": "b.zip"}]
        summary = metadata.get("_files_summary")
        if summary is not None:
            assert "total_bytes" not in summary and "mimetypes" not in summary
            assert summary["count"] == 2
    owner = secured.get(url, headers=as_user("alice")).json["metadata"]
    assert owner["_files"][0]["size"] == 3
    assert owner["_files"][0]["checksum"].startswith("md5:")
    assert "_extracted" in owner["_files"][1]
    public = create_record(secured, dict(RESTRICTED, access={"files": "public"}))
    upload(secured, public, "p.txt", b"p", **as_user("alice"))
    shown = secured.get("/records/{0}".format(public)).json["metadata"]["_files"]
    assert shown[0]["size"] == 1


def test_visible_fields_are_a_setting(
    app: Flask,
    secured: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = restricted_record(secured)
    monkeypatch.setitem(
        app.config, "RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS", ("key", "size")
    )
    metadata = secured.get("/records/{0}".format(pid)).json["metadata"]
    assert metadata["_files"] == [
        {"key": "a.txt", "size": 3},
        {"key": "b.zip", "size": len(zip_of(x=b"x"))},
    ]


def test_search_documents_hold_the_restricted_view(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = restricted_record(secured)
    record = stored_record(pid)
    # Outside a request (the indexer's Celery task, Python code) the record
    # shows everything; its search document does not.
    assert record["_files"][0]["size"] == 3
    document = json.loads(json.dumps(record.dumps(), default=str))
    add_files_to_index(None, json=document, record=record)
    assert document["_files"] == [{"key": "a.txt"}, {"key": "b.zip"}]
    assert "total_bytes" not in document["_files_summary"]


#
# 8. Range as RFC 9110 reads it
#
def test_unknown_units_and_malformed_ranges_are_ignored(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    data = bytes(range(256)) * 4
    upload(client, pid, "r.bin", data)
    url = "/records/{0}/files/r.bin".format(pid)
    for header in ("lines=1-2", "bytes=5-2", "bytes=x", "bytes", "bytes=1-2;"):
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 200, header
        assert response.data == data
    refused = client.get(url, headers={"Range": "bytes=5000-"})
    assert refused.status_code == 416
    assert refused.headers["Content-Range"] == "bytes */1024"
    part = client.get(url, headers={"Range": "bytes=1-2"})
    assert part.status_code == 206 and part.data == data[1:3]


#
# Through gunicorn and waitress
#
@pytest.fixture(scope="module", params=["gunicorn", "waitress"])
def server(
    request: pytest.FixtureRequest,
    app: Flask,
    base_config: dict[str, Any],
    instance_path: str,
) -> Iterator[Server]:
    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "bounds-" + request.param),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server(request.param, env)
    yield running
    running.stop()


@pytest.mark.gunicorn
def test_through_real_servers(
    server: Server,
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http = server.url
    pid = create_record(client)
    base = "{0}/records/{1}".format(http, pid)
    upload(client, pid, "a.bin", os.urandom(2 * 1024 * 1024 + 5))
    upload(client, pid, "names.zip", invalid_names_zip())
    upload(client, pid, "bad.zip", damaged_first_block())
    upload(client, pid, "late.zip", damaged_last_block())
    add_remote(app, client, pid, monkeypatch)
    # 6 and 5: the archive's length, HEAD, the remote file left out.
    with requests.get(base + "/files-archive", stream=True) as response:
        assert response.status_code == 200
        data = b"".join(response.iter_content(1 << 16))
    assert response.headers["Content-Length"] == str(len(data))
    assert "Transfer-Encoding" not in response.headers
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["a.bin", "names.zip", "bad.zip", "late.zip"]
    head = requests.head(base + "/files-archive")
    assert head.headers["Content-Length"] == str(len(data))
    remote = requests.get(base + "/files/far.zip/container")
    assert remote.status_code == 400 and "remote file" in remote.json()["message"]
    # 3: bounded pages.
    pages = walk_container(http_fetch, base + "/files/names.zip/container")
    assert sum(len(body["entries"]) for body, _ in pages) == 240
    assert max(size for _, size in pages) < 1024 * 1024
    # 4: damage before the first byte: 400 JSON; after: a cut stream.
    bad = requests.get(base + "/files/bad.zip/container/a")
    assert bad.status_code == 400
    assert bad.headers["Content-Type"] == "application/json"
    assert "damaged" in bad.json()["message"]
    with pytest.raises(requests.RequestException):
        with requests.get(base + "/files/late.zip/container/big", stream=True) as cut:
            assert cut.status_code == 200
            b"".join(cut.iter_content(1 << 16))
    assert "Stream of late.zip/big cut" in server.logs()
    # 8: Range.
    whole = requests.get(base + "/files/a.bin", headers={"Range": "lines=1-2"})
    assert whole.status_code == 200 and len(whole.content) == 2 * 1024 * 1024 + 5
    malformed = requests.get(base + "/files/a.bin", headers={"Range": "bytes=9-3"})
    assert malformed.status_code == 200
    outside = requests.get(base + "/files/a.bin", headers={"Range": "bytes=9999999-"})
    assert outside.status_code == 416
