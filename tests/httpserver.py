"""A small HTTP server on loopback, the source of fetch transfers in tests.

It serves, in a thread of the test process:

* ``/files/<name>``: bytes registered with :meth:`SourceServer.add`;
* ``/redirect?to=<url>``: a 302 to ``url``;
* ``/slow/<name>``: the bytes, one small piece per ``delay`` seconds;
* ``/liar/<name>``: a Content-Length larger than the body (cut short);
* ``/flaky/<name>``: ``503`` for the first :attr:`SourceServer.failures`
  requests of ``name``, then the bytes;
* anything else: 404.

Nothing listens beyond 127.0.0.1.
"""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit


class _SourceHTTPServer(ThreadingHTTPServer):
    """The HTTP server, knowing its :class:`SourceServer`."""

    source: "SourceServer"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def _send(
        self, status: int, body: bytes = b"", headers: "dict[str, str] | None" = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        """Serve a registered file, a redirect, a slow or a lying body."""
        server = cast(_SourceHTTPServer, self.server).source
        parts = urlsplit(self.path)
        server.requests.append(parts.path)
        section, _, name = parts.path.lstrip("/").partition("/")
        if section == "redirect":
            target = parse_qs(parts.query).get("to", [""])[0]
            self._send(302, headers={"Location": target, "Content-Length": "0"})
            return
        data = server.files.get(name)
        if data is None:
            self._send(404, b"not found")
            return
        if section == "files":
            self._send(200, data, {"Content-Type": "application/octet-stream"})
        elif section == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for start in range(0, len(data), 16):
                    # Counted before it is sent: once the client has a
                    # byte, the count includes it.
                    server.sent[name] = start + len(data[start : start + 16])
                    self.wfile.write(data[start : start + 16])
                    self.wfile.flush()
                    time.sleep(server.delay)
            except OSError:
                server.cut.append(name)  # the client hung up
                self.close_connection = True
                return
            server.finished.append(name)
        elif section == "flaky":
            failed = server.failed.get(name, 0)
            if failed < server.failures:
                server.failed[name] = failed + 1
                self._send(503, b"busy")
            else:
                self._send(200, data)
        elif section == "liar":
            self._send(200, data, {"Content-Length": str(len(data) + 100)})
            self.close_connection = True
        else:
            self._send(404, b"not found")


class SourceServer:
    """The HTTP server, started on a free loopback port."""

    def __init__(self, delay: float = 0.2) -> None:
        """Bind to a free port on 127.0.0.1; :meth:`start` serves."""
        self.httpd = _SourceHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.source = self
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.delay = delay
        self.failures = 1
        self.failed: dict[str, int] = {}
        self.sent: dict[str, int] = {}
        """Bytes of each slow body sent so far (or being sent)."""
        self.finished: list[str] = []
        """Names whose slow body was sent whole."""
        self.cut: list[str] = []
        """Names whose slow body the client stopped reading."""
        self.port = self.httpd.server_address[1]
        self.base = "http://127.0.0.1:{0}".format(self.port)
        self._thread: "threading.Thread | None" = None

    def add(self, name: str, data: bytes) -> str:
        """Serve ``data`` at ``/files/<name>``; return its URL."""
        self.files[name] = data
        return "{0}/files/{1}".format(self.base, name)

    def url(self, path: str) -> str:
        """Return the URL of ``path`` on this server."""
        return self.base + path

    def start(self) -> "SourceServer":
        """Serve in a daemon thread."""
        self._thread = thread = threading.Thread(
            target=self.httpd.serve_forever, daemon=True
        )
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
