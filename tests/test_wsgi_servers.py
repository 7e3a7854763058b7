"""File routes through production WSGI servers (gunicorn, waitress).

These servers set ``wsgi.input_terminated``, so Flask hands the views the
server's raw input object instead of Werkzeug's ``LimitedStream``; uploads
through Invenio-Files-REST's object view used to fail with a 500 there.
"""

import hashlib
import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from invenio_files_rest.models import Location

from tests.helpers import storage_files
from tests.servers import Server

pytestmark = pytest.mark.gunicorn


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
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, request.param),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server(request.param, env)
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


def test_upload_download_delete(http: str, server: Server) -> None:
    pid = create_record(http)
    body = os.urandom(3 * 1024 * 1024 + 17)
    response = requests.put(
        "{0}/records/{1}/files/data.bin".format(http, pid),
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, server.logs()[-2000:]
    assert response.json()["checksum"] == "md5:" + hashlib.md5(body).hexdigest()
    assert response.json()["links"]["self"].endswith(
        "/records/{0}/files/data.bin".format(pid)
    )
    download = requests.get("{0}/records/{1}/files/data.bin".format(http, pid))
    assert download.status_code == 200
    assert download.content == body
    listing = requests.get("{0}/records/{1}/files".format(http, pid)).json()
    assert [item["key"] for item in listing["contents"]] == ["data.bin"]
    record = requests.get("{0}/records/{1}".format(http, pid)).json()
    assert [f["key"] for f in record["metadata"]["_files"]] == ["data.bin"]
    deleted = requests.delete("{0}/records/{1}/files/data.bin".format(http, pid))
    assert deleted.status_code == 204
    record = requests.get("{0}/records/{1}".format(http, pid)).json()
    assert "_files" not in record["metadata"]


class SlowReader(io.RawIOBase):
    """A file-like body handed out in small pieces."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)
        self.size = len(data)

    def __len__(self) -> int:
        return self.size

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.data.tell()

    def read(self, size: int = -1) -> bytes:
        return self.data.read(min(size if size > 0 else 4096, 4096))


def test_streamed_upload_in_small_pieces(http: str) -> None:
    """A body sent in pieces (with a Content-Length) arrives whole."""
    pid = create_record(http)
    pieces = [os.urandom(64 * 1024) for _ in range(20)]
    response = requests.put(
        "{0}/records/{1}/files/pieces.bin".format(http, pid),
        data=SlowReader(b"".join(pieces)),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    download = requests.get("{0}/records/{1}/files/pieces.bin".format(http, pid))
    assert download.content == b"".join(pieces)


def test_chunked_upload_is_whole_or_refused(http: str, location: Location) -> None:
    """Chunked bodies: waitress de-chunks them; gunicorn has no length, and
    the client is told to send one (411 Length Required)."""
    pid = create_record(http)
    response = requests.put(
        "{0}/records/{1}/files/chunked.bin".format(http, pid),
        data=iter([b"abc", b"def"]),
        headers={"Content-Type": "application/octet-stream"},
    )
    url = "{0}/records/{1}/files/chunked.bin".format(http, pid)
    if response.status_code == 200:
        assert requests.get(url).content == b"abcdef"
    else:
        assert response.status_code == 411
        assert "Transfer-Encoding: chunked" in response.json()["message"]
        assert storage_files(location.uri) == set()
        assert requests.get(url).status_code == 404


def test_multipart_upload(http: str, app: Flask) -> None:
    pid = create_record(http)
    part_size = 5 * 1024 * 1024
    body = os.urandom(part_size + 1000)
    base = "{0}/records/{1}/files/big.bin".format(http, pid)
    init = requests.post(
        base + "?uploads&size={0}&partSize={1}".format(len(body), part_size)
    )
    assert init.status_code == 200, init.text
    upload_id = init.json()["id"]
    wrong = requests.put(
        "{0}?uploadId={1}&partNumber=0".format(base, upload_id),
        data=body[:part_size],
        headers={
            "Content-Type": "application/octet-stream",
            "Content-MD5": hashlib.md5(b"not the part").hexdigest(),
        },
    )
    assert wrong.status_code == 400
    assert "Content-MD5" in wrong.json()["message"]
    for number, start in enumerate(range(0, len(body), part_size)):
        part = requests.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=body[start : start + part_size],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert part.status_code == 200, part.text
    done = requests.post("{0}?uploadId={1}".format(base, upload_id))
    assert done.status_code == 200, done.text
    assert requests.get(base).content == body
    record = requests.get("{0}/records/{1}".format(http, pid)).json()
    assert [f["key"] for f in record["metadata"]["_files"]] == ["big.bin"]


def _raw_request(http: str, head: str, body: bytes, read_timeout: float = 10) -> bytes:
    """Send a request over a raw socket, then stop sending; return the reply."""
    host, port = http.split("//")[1].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode("latin-1") + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(read_timeout)
        reply = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except socket.timeout:
            pass
    return reply


def test_body_shorter_than_announced_leaves_nothing(
    http: str, location: Location
) -> None:
    """The client announces 1,000 bytes, sends 10 and stops."""
    pid = create_record(http)
    head = (
        "PUT /records/{0}/files/short.bin HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Length: 1000\r\n"
        "Connection: close\r\n\r\n"
    ).format(pid)
    reply = _raw_request(http, head, b"0123456789")
    assert not reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert storage_files(location.uri) == set()
    assert (
        requests.get("{0}/records/{1}/files/short.bin".format(http, pid)).status_code
        == 404
    )
    record = requests.get("{0}/records/{1}".format(http, pid)).json()
    assert record["metadata"].get("_files", []) == []


def _status_and_json(reply: bytes) -> tuple[int, dict[str, str], Any]:
    """Split a raw HTTP reply into its status code, headers and JSON body."""
    import json

    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    assert headers.get("Content-Type", "").startswith("application/json"), reply
    if headers.get("Transfer-Encoding") == "chunked":
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    return status, headers, json.loads(body) if body else None


def _raw(
    http: str, method: str, path: str, body: bytes = b"", headers: str = ""
) -> tuple[int, dict[str, str], Any]:
    head = (
        "{0} {1} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Length: {2}\r\n{3}Connection: close\r\n\r\n"
    ).format(method, path, len(body), headers)
    return _status_and_json(_raw_request(http, head, body))


def test_bad_paths_answer_json_400(http: str, location: Location) -> None:
    """``//`` used to answer Werkzeug's HTML 308; raw invalid UTF-8 became U+FFFD."""
    pid = create_record(http)
    for path in ("/a.txt", "a//b.txt", "a/./b.txt", "%FFa.txt", "a%5Cb.txt"):
        for method in ("PUT", "GET", "DELETE"):
            status, _, body = _raw(
                http, method, "/records/{0}/files/{1}".format(pid, path), b"x"
            )
            assert status == 400, (method, path, body)
            assert body["message"].startswith("Invalid file key: "), body
    assert storage_files(location.uri) == set()


def test_empty_body_and_options_answer_json(http: str, location: Location) -> None:
    pid = create_record(http)
    status, _, body = _raw(http, "PUT", "/records/{0}/files/empty.txt".format(pid))
    assert status == 400
    assert "0 byte(s)" in body["message"]
    status, headers, body = _raw(
        http, "OPTIONS", "/records/{0}/files/empty.txt".format(pid)
    )
    assert status == 200
    assert "PUT" in body["methods"] and "PUT" in headers["Allow"]
    assert storage_files(location.uri) == set()


def test_redirected_pid(http: str, app: Flask) -> None:
    from invenio_db import db
    from invenio_pidstore.models import PersistentIdentifier

    old, new = create_record(http), create_record(http)
    with app.app_context():
        PersistentIdentifier.get("recid", old).redirect(
            PersistentIdentifier.get("recid", new)
        )
        db.session.commit()
    put = requests.put(
        "{0}/records/{1}/files/moved.txt".format(http, old),
        data=b"moved",
        headers={"Content-Type": "application/octet-stream"},
    )
    # requests repeats the PUT, body included, at the new address (308).
    assert put.status_code == 200, put.text
    assert [r.status_code for r in put.history] == [308]
    assert put.json()["links"]["self"].endswith(
        "/records/{0}/files/moved.txt".format(new)
    )
    download = requests.get("{0}/records/{1}/files/moved.txt".format(http, old))
    assert [r.status_code for r in download.history] == [301]
    assert download.content == b"moved"


def test_three_step_upload(http: str, location: Location, server: Server) -> None:
    pid = create_record(http)
    files = "{0}/records/{1}/files".format(http, pid)
    body = os.urandom(2 * 1024 * 1024 + 3)
    md5 = "md5:" + hashlib.md5(body).hexdigest()
    announced = requests.post(
        files, json=[{"key": "data.bin", "size": len(body), "checksum": md5}]
    )
    assert announced.status_code == 201, announced.text
    assert announced.json()["entries"][0]["status"] == "pending"
    assert requests.get(files + "/data.bin/content").status_code == 404
    short = requests.put(
        files + "/data.bin/content",
        data=body[:-1],
        headers={"Content-Type": "application/octet-stream"},
    )
    assert short.status_code == 400, short.text
    sent = requests.put(
        files + "/data.bin/content",
        data=SlowReader(body),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert sent.status_code == 200, server.logs()[-2000:]
    done = requests.post(files + "/data.bin/commit")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["checksum"] == md5
    assert requests.get(files + "/data.bin/content").content == body
    record = requests.get("{0}/records/{1}".format(http, pid)).json()
    assert [f["key"] for f in record["metadata"]["_files"]] == ["data.bin"]
    assert record["metadata"]["files"] == {"enabled": True}
    assert len(storage_files(location.uri)) == 1


def test_multipart_transfer_through_the_app(http: str, location: Location) -> None:
    pid = create_record(http)
    files = "{0}/records/{1}/files".format(http, pid)
    part_size = 5 * 1024 * 1024
    body = os.urandom(2 * part_size + 10)
    announced = requests.post(
        files,
        json=[
            {
                "key": "parts.bin",
                "size": len(body),
                "checksum": "md5:" + hashlib.md5(body).hexdigest(),
                "transfer": {"type": "M", "parts": 3, "part_size": part_size},
            }
        ],
    )
    assert announced.status_code == 201, announced.text
    parts = announced.json()["entries"][0]["links"]["parts"]
    assert [p["url"].startswith(http + "/records/") for p in parts] == [True] * 3
    # Parts in any order, as parallel clients send them.
    for part in reversed(parts):
        start = (part["part"] - 1) * part_size
        sent = requests.put(
            part["url"],
            data=body[start : start + part_size],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert sent.status_code == 200, sent.text
    done = requests.post(files + "/parts.bin/commit")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert requests.get(files + "/parts.bin/content").content == body


def test_archive_range_and_containers(
    http: str, server: Server, tmp_path: Path
) -> None:
    import subprocess
    import zipfile

    pid = create_record(http)
    files = {"a.bin": os.urandom(2 * 1024 * 1024 + 3), "b.txt": b"bee"}
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("in/side.txt", b"inside " * 1000)
    files["c.zip"] = inner.getvalue()
    base = "{0}/records/{1}".format(http, pid)
    for key, data in files.items():
        response = requests.put(
            base + "/files/" + key,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 200, server.logs()[-2000:]
    with requests.get(base + "/files-archive", stream=True) as response:
        assert response.status_code == 200
        path = tmp_path / "archive.zip"
        with open(path, "wb") as out:
            for chunk in response.iter_content(1 << 16):
                out.write(chunk)
    zipped = zipfile.ZipFile(path)
    assert {name: zipped.read(name) for name in zipped.namelist()} == files
    assert subprocess.run(["unzip", "-tq", str(path)]).returncode == 0
    # Ranges through the fast path (sendfile under gunicorn).
    data = files["a.bin"]
    for start, stop in ((0, 1), (1000, 1024 * 1024 + 5), (len(data) - 7, len(data))):
        part = requests.get(
            base + "/files/a.bin",
            headers={"Range": "bytes={0}-{1}".format(start, stop - 1)},
        )
        assert part.status_code == 206
        assert part.content == data[start:stop]
        assert part.headers["Content-Range"] == "bytes {0}-{1}/{2}".format(
            start, stop - 1, len(data)
        )
    refused = requests.get(base + "/files/a.bin", headers={"Range": "bytes=9999999-"})
    assert refused.status_code == 416
    listing = requests.get(base + "/files/c.zip/container").json()
    assert [entry["key"] for entry in listing["entries"]] == ["in/side.txt"]
    member = requests.get(base + "/files/c.zip/container/in/side.txt")
    assert member.content == b"inside " * 1000
