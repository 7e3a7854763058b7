"""Files archive, zip browsing and HTTP Range on the record's routes."""

import io
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.archives import archive, containers, zipreader
from invenio_records_files_ext.archives.zipwriter import LIMIT_32, ZipStreamWriter
from invenio_records_files_ext.storage.reads import RandomAccess
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    files_of,
    stored_record,
    stream,
    upload,
)


def zip_of(compression: int = zipfile.ZIP_DEFLATED, /, **members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def unzip_test(path: Path) -> str:
    """Check an archive with Info-ZIP's ``unzip -t``."""
    result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    containers.cache.clear()
    yield
    containers.cache.clear()


#
# The archive
#
def test_archive_of_a_record(
    client: IsolatedClient, db: SQLAlchemy, tmp_path: Path
) -> None:
    pid = create_record(client)
    files = {
        "b.txt": b"bee",
        "a/é.bin": os.urandom(300000),
        "empty.dat": b"",
        "z.zip": zip_of(inner=b"x"),
    }
    for key, data in files.items():
        assert upload(client, pid, key, data or b"").status_code in (200, 400)
    expected = {k: v for k, v in files.items() if v}
    response = client.get("/records/{0}/files-archive".format(pid))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert (
        'filename="{0}.zip"'.format(pid) in response.headers["Content-Disposition"]
        or "filename={0}.zip".format(pid) in response.headers["Content-Disposition"]
    )
    path = tmp_path / "archive.zip"
    path.write_bytes(response.data)
    zipped = zipfile.ZipFile(path)
    assert zipped.testzip() is None
    assert zipped.namelist() == list(expected)
    for key, data in expected.items():
        assert zipped.read(key) == data
    unzip_test(path)
    head = client.head("/records/{0}/files-archive".format(pid))
    assert head.status_code == 200 and head.data == b""


def test_archive_of_a_record_without_files(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    response = client.get("/records/{0}/files-archive".format(pid))
    assert zipfile.ZipFile(io.BytesIO(response.data)).namelist() == []


def test_archive_pages_and_large_member_counts(
    app: Flask, db: SQLAlchemy, location: Location, tmp_path: Path
) -> None:
    record: BucketRecord = Record.create({})
    count = 70000
    files_of(record).update({"f{0:05d}".format(i): stream(b"x") for i in range(3)})
    db.session.commit()
    # Pages of two rows exercise the cursor; the zip64 end records are
    # exercised by writing 70,000 members directly.
    data = b"".join(archive.stream_archive(record.bucket.id, page_size=2))
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == [
        "f00000",
        "f00001",
        "f00002",
    ]
    writer = ZipStreamWriter()
    path = tmp_path / "many.zip"
    with open(path, "wb") as out:
        for index in range(count):
            for piece in writer.member(str(index), [b"y"], 1):
                out.write(piece)
        out.write(writer.finish())
    zipped = zipfile.ZipFile(path)
    assert len(zipped.infolist()) == count
    assert zipped.read("69999") == b"y"
    unzip_test(path)


def test_zip64_members_and_offsets(
    app: Flask, db: SQLAlchemy, location: Location, tmp_path: Path
) -> None:
    record: BucketRecord = Record.create({})
    files_of(record).update({"a.bin": stream(b"a" * 5000), "b.bin": stream(b"b" * 3)})
    db.session.commit()
    # Zip64 fields from 1000 bytes on: the same code as for 4 GiB files.
    data = b"".join(archive.stream_archive(record.bucket.id, zip64_from=1000))
    path = tmp_path / "zip64.zip"
    path.write_bytes(data)
    zipped = zipfile.ZipFile(path)
    assert zipped.read("a.bin") == b"a" * 5000
    assert zipped.read("b.bin") == b"bbb"
    unzip_test(path)


@pytest.mark.skipif(
    bool(os.environ.get("SQLALCHEMY_DATABASE_URI")),
    reason="uses no database: run once, in the SQLite run",
)
def test_a_real_zip64_archive_over_4_gib(tmp_path: Path) -> None:
    """One member of 4 GiB + 1 byte, streamed to disk, checked by zipfile and unzip."""
    size = LIMIT_32 + 1
    block = b"\0" * (8 << 20)

    def chunks() -> Iterator[bytes]:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            left -= len(piece)
            yield piece

    writer = ZipStreamWriter()
    path = tmp_path / "huge.zip"
    with open(path, "wb") as out:
        for piece in writer.member("huge.bin", chunks(), size):
            out.write(piece)
        for piece in writer.member("after.txt", [b"after"], 5):
            out.write(piece)
        out.write(writer.finish())
    zipped = zipfile.ZipFile(path)
    info = zipped.getinfo("huge.bin")
    assert info.file_size == size
    assert zipped.read("after.txt") == b"after"
    unzip_test(path)


def test_archive_stops_when_stored_bytes_differ(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    from invenio_records_files_ext.errors import ArchiveSizeError

    record: BucketRecord = Record.create({})
    files_of(record)["a.txt"] = stream(b"abc")
    db.session.commit()
    with open(files_of(record)["a.txt"].obj.file.uri, "wb") as fp:
        fp.write(b"abcdef")
    with pytest.raises(ArchiveSizeError):
        b"".join(archive.stream_archive(record.bucket.id))


#
# Browsing inside zip files
#
def test_container_listing_and_extraction(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    data = zip_of(**{"inner.txt": b"inner " * 100, "dir/": b"", "dir/x.csv": b"a,b\n"})
    assert upload(client, pid, "a.zip", data).status_code == 200
    base = "/records/{0}/files/a.zip/container".format(pid)
    listing = client.get(base)
    assert listing.status_code == 200, listing.data
    body = listing.json
    assert body["total"] == 3
    assert body["total_size"] == 604
    assert [e["key"] for e in body["entries"]] == ["inner.txt", "dir/", "dir/x.csv"]
    assert body["entries"][1]["is_dir"] is True
    assert body["entries"][2]["links"]["content"].endswith(
        "/records/{0}/files/a.zip/container/dir/x.csv".format(pid)
    )
    member = client.get(base + "/dir/x.csv")
    assert member.status_code == 200
    assert member.data == b"a,b\n"
    assert member.headers["Content-Length"] == "4"
    assert member.headers["X-Content-Type-Options"] == "nosniff"
    download = client.get(base + "/inner.txt?download")
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.data == b"inner " * 100
    missing = client.get(base + "/nope.txt")
    assert missing.status_code == 404 and missing.json["message"]
    folder = client.get(base + "/dir/")
    assert folder.status_code == 400
    assert client.get(base + "x").status_code == 404  # file a.zip/containerx
    not_there = client.get("/records/{0}/files/b.zip/container".format(pid))
    assert not_there.status_code == 404


def test_keys_ending_in_the_reserved_suffix_stay_reachable(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "x/container", b"plain").status_code == 200
    assert upload(client, pid, "y/container/z", b"deeper").status_code == 200
    assert client.get("/records/{0}/files/x/container".format(pid)).data == b"plain"
    response = client.get("/records/{0}/files/y/container/z".format(pid))
    assert response.data == b"deeper"
    deleted = client.delete("/records/{0}/files/x/container".format(pid))
    assert deleted.status_code == 204


@pytest.mark.parametrize(
    "data,status,words",
    [
        (b"not a zip at all", 400, "not a zip"),
        (zip_of(a=b"a")[:-30], 400, "not a zip"),
        (
            b"PK\x05\x06" + b"\0" * 6 + b"\x05\x00" + b"\xff" * 8 + b"\0\0",
            400,
            "damaged",
        ),
    ],
)
def test_broken_archives_answer_400(
    client: IsolatedClient, db: SQLAlchemy, data: bytes, status: int, words: str
) -> None:
    pid = create_record(client)
    upload(client, pid, "bad.zip", data)
    response = client.get("/records/{0}/files/bad.zip/container".format(pid))
    assert response.status_code == status, response.data
    assert words in response.json["message"]


def test_limits_answer_413_and_bombs_400(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = create_record(client)
    upload(client, pid, "many.zip", zip_of(**{str(i): b"" for i in range(30)}))
    upload(client, pid, "bomb.zip", zip_of(bomb=b"\0" * 10_000_000))
    base = "/records/{0}/files/".format(pid)
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_CONTAINER_MAX_MEMBERS", 10)
        response = client.get(base + "many.zip/container")
        assert response.status_code == 413 and "30 members" in response.json["message"]
    assert client.get(base + "bomb.zip/container").status_code == 200
    response = client.get(base + "bomb.zip/container/bomb")
    assert response.status_code == 400
    assert "200 times" in response.json["message"]
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_CONTAINER_MAX_MEMBER_SIZE", 1000)
        assert client.get(base + "many.zip/container/1").status_code == 200
        response = client.get(base + "bomb.zip/container/bomb")
        assert response.status_code == 413


def test_lying_member_sizes_stop_the_stream(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    data = bytearray(zip_of(a=b"z" * 1000))
    # The central directory says 10 bytes; the data inflates to 1000.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    files_of(record)["lie.zip"] = stream(bytes(data))
    obj = files_of(record)["lie.zip"].obj
    extraction = containers.extract(obj, "a")
    with pytest.raises(Exception) as raised:
        b"".join(extraction.chunks)
    assert "declared size" in str(raised.value) or "200 times" in str(raised.value)


def test_directory_is_read_with_ranged_reads_and_cached(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    big = zip_of(
        zipfile.ZIP_STORED, **{"m{0}".format(i): os.urandom(20000) for i in range(100)}
    )
    files_of(record)["big.zip"] = stream(big)
    obj = files_of(record)["big.zip"].obj
    with RandomAccess(obj.file.storage(), len(big)) as source:
        directory = zipreader.read_directory(source, containers.limits())
        assert len(directory.members) == 100
        assert source.bytes_read < len(big) / 100
        member = directory.find("m7")
        assert member is not None
        chunks = zipreader.open_member(source, member, containers.limits())
        assert len(b"".join(chunks)) == 20000
        assert source.bytes_read < len(big) / 20
    reads: list[Any] = []
    original = containers._reader

    def counting(obj: Any) -> RandomAccess:
        reads.append(obj.version_id)
        return original(obj)

    containers._reader = counting
    try:
        containers.directory_of(obj)
        containers.directory_of(obj)
        containers.directory_of(obj)
    finally:
        containers._reader = original
    assert len(reads) == 1
    assert len(containers.cache) == 1


def test_cache_is_bounded_by_bytes() -> None:
    cache = containers.DirectoryCache()
    member = zipreader.Member("a", 0, 1, 1, 0, 0, 0)
    directory = zipreader.Directory((member,) * 4)
    budget = directory.memory() * 2 + 10
    for version in range(5):
        cache.put(version, zipreader.Directory((member,) * 4), budget=budget)
    assert len(cache) == 2 and cache.memory == directory.memory() * 2
    assert cache.get(4) is not None and cache.get(0) is None
    cache.put("huge", zipreader.Directory((member,) * 9), budget=budget)
    assert cache.get("huge") is None


#
# HTTP Range
#
def test_range_requests(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    data = bytes(range(256)) * 40
    upload(client, pid, "r.bin", data)
    url = "/records/{0}/files/r.bin".format(pid)
    full = client.get(url)
    assert full.status_code == 200 and full.headers["Accept-Ranges"] == "bytes"
    for header, start, stop in (
        ("bytes=0-9", 0, 10),
        ("bytes=100-", 100, len(data)),
        ("bytes=-5", len(data) - 5, len(data)),
        ("bytes=10230-99999", 10230, len(data)),
    ):
        part = client.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.data == data[start:stop]
        assert part.headers["Content-Range"] == "bytes {0}-{1}/{2}".format(
            start, stop - 1, len(data)
        )
        assert part.headers["Content-Length"] == str(stop - start)
        assert "Content-MD5" not in part.headers
    for header in ("bytes=20000-",):
        refused = client.get(url, headers={"Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["Content-Range"] == "bytes */{0}".format(len(data))
        assert refused.json["status"] == 416
    several = client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.data == data
    etag = full.headers["ETag"]
    matching = client.get(url, headers={"Range": "bytes=0-1", "If-Range": etag})
    assert matching.status_code == 206
    stale = client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.data == data
    bucket = str(stored_record(pid).bucket_id)
    files_rest = client.get(
        "/files/{0}/r.bin".format(bucket), headers={"Range": "bytes=3-4"}
    )
    assert files_rest.status_code == 206 and files_rest.data == data[3:5]


def test_range_requests_can_be_turned_off(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = create_record(client)
    upload(client, pid, "r.bin", b"0123456789")
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_ALLOW_RANGE_REQUESTS", False)
        response = client.get(
            "/records/{0}/files/r.bin".format(pid), headers={"Range": "bytes=0-1"}
        )
    assert response.status_code == 200 and response.data == b"0123456789"
