"""Files archive, HTTP Range and zip browsing with the bytes in S3 (moto)."""

import io
import os
import zipfile

import pytest

from invenio_records_files_ext import containers, zipreader
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.blobs import RandomAccess
from tests.conftest import stream
from tests.s3server import http_session
from tests.test_s3 import (  # noqa: F401 - fixtures
    s3,
    s3_app,
    s3_bucket,
    s3_client,
    s3_db,
    s3_location,
    s3_server,
)
from tests.test_views import create_record, stored_record, upload

pytestmark = pytest.mark.s3


def big_zip(members=60, size=200 * 1024):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        for index in range(members):
            zipped.writestr("m{0:03d}.bin".format(index), os.urandom(size))
    return buffer.getvalue()


def test_archive_from_s3(s3_client, s3_db):
    pid = create_record(s3_client)
    files = {"a.bin": os.urandom(700 * 1024), "b.txt": b"bee"}
    for key, data in files.items():
        assert upload(s3_client, pid, key, data).status_code == 200
    response = s3_client.get("/records/{0}/files-archive".format(pid))
    assert response.status_code == 200
    zipped = zipfile.ZipFile(io.BytesIO(response.data))
    assert zipped.testzip() is None
    assert {name: zipped.read(name) for name in zipped.namelist()} == files


def test_range_through_the_s3_redirect(s3_client, s3_db):
    pid = create_record(s3_client)
    data = os.urandom(100 * 1024)
    upload(s3_client, pid, "r.bin", data)
    response = s3_client.get(
        "/records/{0}/files/r.bin".format(pid), headers={"Range": "bytes=10-19"}
    )
    # invenio-s3 sends the client to S3, which answers the range itself.
    assert response.status_code == 302
    fetched = http_session().get(
        response.headers["Location"], headers={"Range": "bytes=10-19"}, timeout=30
    )
    assert fetched.status_code == 206
    assert fetched.content == data[10:20]
    assert fetched.headers["Content-Range"] == "bytes 10-19/{0}".format(len(data))


def test_containers_on_s3_read_only_what_they_need(s3_client, s3_db, s3_app):
    containers.cache.clear()
    pid = create_record(s3_client)
    data = big_zip()
    assert upload(s3_client, pid, "big.zip", data).status_code == 200
    base = "/records/{0}/files/big.zip/container".format(pid)
    listing = s3_client.get(base)
    assert listing.status_code == 200, listing.data
    assert listing.json["total"] == 60
    member = s3_client.get(base + "/m042.bin")
    expected = zipfile.ZipFile(io.BytesIO(data)).read("m042.bin")
    assert member.status_code == 200 and member.data == expected
    # Asked of S3: the directory, then one member (with s3fs's read-ahead).
    obj = stored_record(pid).files["big.zip"].obj
    limits = containers.limits()
    with RandomAccess(obj.file.storage(), len(data)) as source:
        directory = zipreader.read_directory(source, limits)
        assert source.requested_bytes < len(data) / 4
        for _ in zipreader.open_member(source, directory.find("m010.bin"), limits):
            pass
        assert source.requested_bytes < len(data) / 2
    containers.cache.clear()


def test_processors_read_from_s3(s3_db, s3_location):
    record = Record.create({})
    record.files["z.zip"] = stream(big_zip(members=3, size=10))
    s3_db.session.commit()
    assert record.files["z.zip"]["_extracted"]["zip"]["members"] == 3
