"""Issue 18: the upload pipeline's findings on request bodies, through gunicorn.

The Flask client's versions are in ``tests/test_upload_pipeline.py``; here
the same bodies go through a production WSGI server (the demo application
under gunicorn), where the request stream is the server's own.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from invenio_files_rest.models import Location

from tests.helpers import payload
from tests.servers import Server

pytestmark = pytest.mark.gunicorn

MiB = 1024 * 1024
PART = 5 * MiB
"""Files-REST's smallest part size by default: the deposit page's part size."""


@pytest.fixture(scope="module")
def server(
    app: Flask, base_config: dict[str, Any], instance_path: str
) -> Iterator[Server]:
    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "pipeline-gunicorn"),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server("gunicorn", env)
    yield running
    running.stop()


@pytest.fixture()
def http(server: Server, location: Location) -> str:
    """Base URL of the server; the database has a default location."""
    return server.url


def create_record(http: str) -> str:
    response = requests.post(http + "/records/", json={"title": "served"})
    assert response.status_code == 201, response.text
    pid: str = response.json()["id"]
    return pid


@pytest.mark.parametrize("size", [2 * PART, 2 * PART + 1000])
def test_files_rest_multipart_multiple_and_not(http: str, size: int) -> None:
    """Finding 9 through gunicorn: 10 MiB in 5 MiB parts, and 10 MiB + 1000."""
    body = payload(size, seed="served")
    pid = create_record(http)
    base = "{0}/records/{1}/files/big.bin".format(http, pid)
    init = requests.post(base + "?uploads&size={0}&partSize={1}".format(size, PART))
    assert init.status_code == 200, init.text
    assert init.json()["last_part_size"] == (size % PART or PART)
    upload_id = init.json()["id"]
    for number, start in enumerate(range(0, size, PART)):
        part = requests.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=body[start : start + PART],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert part.status_code == 200, part.text
    done = requests.post("{0}?uploadId={1}".format(base, upload_id))
    assert done.status_code == 200, done.text
    assert requests.get(base).content == body


def test_multipart_transfer_of_a_multiple(http: str) -> None:
    """Finding 9 through gunicorn, the multipart transfer: 3 parts of 1000 bytes."""
    body = payload(3000, seed="served")
    pid = create_record(http)
    files = "{0}/records/{1}/files".format(http, pid)
    announced = requests.post(
        files,
        json=[
            {
                "key": "m.bin",
                "size": len(body),
                "transfer": {"type": "M", "parts": 3, "part_size": 1000},
            }
        ],
    )
    assert announced.status_code == 201, announced.text
    [entry] = announced.json()["entries"]
    for link in entry["links"]["parts"]:
        start = (link["part"] - 1) * 1000
        put = requests.put(link["url"], data=body[start : start + 1000])
        assert put.status_code == 200, put.text
    done = requests.post(files + "/m.bin/commit")
    assert done.status_code == 200, done.text
    assert requests.get(files + "/m.bin/content").content == body


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded"]
)
def test_announce_by_a_cross_site_form_is_refused(http: str, content_type: str) -> None:
    """Finding 5 through gunicorn: a form's body is not JSON, whatever it holds."""
    pid = create_record(http)
    files = "{0}/records/{1}/files".format(http, pid)
    body = '[{"key": "csrf.bin", "size": 1000000}]'
    refused = requests.post(files, data=body, headers={"Content-Type": content_type})
    assert refused.status_code == 415, refused.text
    assert refused.json()["status"] == 415
    assert requests.get(files).json()["entries"] == []
    ok = requests.post(files, data=body, headers={"Content-Type": "application/json"})
    assert ok.status_code == 201, ok.text


def test_a_size_of_ten_to_the_thirty_is_a_400(http: str) -> None:
    """Finding 6 (size) through gunicorn: no 500, nothing stored."""
    pid = create_record(http)
    files = "{0}/records/{1}/files".format(http, pid)
    refused = requests.post(files, json=[{"key": "big.bin", "size": 10**30}])
    assert refused.status_code == 400, refused.text
    assert refused.json()["status"] == 400
    assert "'size'" in refused.json()["message"]
    assert requests.get(files).json()["entries"] == []


def test_reserved_metadata_at_announce_is_a_400(http: str) -> None:
    """Finding 7 through gunicorn: ``_extracted`` cannot be forged."""
    pid = create_record(http)
    files = "{0}/records/{1}/files".format(http, pid)
    entry: dict[str, Any] = {"key": "a.txt", "metadata": {"_extracted": {"pages": 1}}}
    refused = requests.post(files, json=[entry])
    assert refused.status_code == 400, refused.text
    assert "reserved" in refused.json()["message"]
    assert requests.get(files).json()["entries"] == []
