"""File routes through production WSGI servers (gunicorn, waitress).

These servers set ``wsgi.input_terminated``, so Flask hands the views the
server's raw input object instead of Werkzeug's ``LimitedStream``; uploads
through Invenio-Files-REST's object view used to fail with a 500 there.
"""

import hashlib
import io
import os
import socket

import pytest
import requests

from tests.conftest import storage_files
from tests.servers import Server

pytestmark = pytest.mark.gunicorn


@pytest.fixture(scope="module", params=["gunicorn", "waitress"])
def server(request, app, base_config, instance_path):
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
def http(server, location):
    """Base URL of the server; the database has a default location."""
    return server.url


def create_record(http):
    response = requests.post(http + "/records/", json={"title": "served"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_upload_download_delete(http, server):
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

    def __init__(self, data):
        self.data = io.BytesIO(data)
        self.size = len(data)

    def __len__(self):
        return self.size

    def readable(self):
        return True

    def tell(self):
        return self.data.tell()

    def read(self, size=-1):
        return self.data.read(min(size if size > 0 else 4096, 4096))


def test_streamed_upload_in_small_pieces(http):
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


def test_chunked_upload_is_whole_or_refused(http, location):
    """Chunked bodies: waitress de-chunks them, gunicorn has no length."""
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
        assert response.status_code == 400
        assert response.json()["message"]
        assert storage_files(location.uri) == set()
        assert requests.get(url).status_code == 404


def test_multipart_upload(http, app):
    pid = create_record(http)
    part_size = 5 * 1024 * 1024
    body = os.urandom(part_size + 1000)
    base = "{0}/records/{1}/files/big.bin".format(http, pid)
    init = requests.post(
        base + "?uploads&size={0}&partSize={1}".format(len(body), part_size)
    )
    assert init.status_code == 200, init.text
    upload_id = init.json()["id"]
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


def _raw_request(http, head, body, read_timeout=10):
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


def test_body_shorter_than_announced_leaves_nothing(http, location):
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
