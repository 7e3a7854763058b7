"""Helpers shared by the test modules.

Test modules import what they share from here (or from the support modules
such as ``tests/servers.py``), never from ``tests/conftest.py`` or from
another ``tests/test_*.py``: each test module then stands alone, and
``conftest.py`` holds only fixtures. ``tests/test_suite_shape.py`` checks it.
"""

import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import TYPE_CHECKING, Any

from flask import Flask, has_app_context
from flask.testing import FlaskClient
from invenio_db import db as db_
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from werkzeug.test import TestResponse

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.files import FilesIterator

JSON = {"Content-Type": "application/json"}
"""Headers of a JSON request body."""

OWN_TABLES = (
    "records_buckets",
    "records_files_entry",
    "records_files_transfer",
    "records_files_checksums",
)
"""Tables this package's Alembic branch creates."""

ALEMBIC_DEPENDENCIES = ["invenio_files_rest@head", "invenio_records@head"]
"""Branches this package's recipes build on."""


#
# Bytes and storage
#
def stream(data: bytes = b"Hello, World") -> BytesIO:
    """Return a readable stream of ``data``."""
    return BytesIO(data)


def storage_files(root: "str | os.PathLike[str]") -> set[str]:
    """Return the set of files under a storage folder."""
    found = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            found.add(os.path.join(dirpath, name))
    return found


#
# Database
#
def reset_schema() -> None:
    """Start PostgreSQL from an empty schema (earlier runs may have left tables).

    Needs an application context; does nothing on SQLite, whose database
    file is new in each run.
    """
    if db_.engine.dialect.name == "postgresql":
        with db_.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))


def clear_tables() -> None:
    """Delete every row of every table, and commit.

    On PostgreSQL one ``TRUNCATE`` of all tables; it is tried again when the
    server breaks a deadlock by aborting it: a server a test started (the
    demo under gunicorn, still answering a page's last request) may hold a
    table the ``TRUNCATE`` needs while waiting for one it already took.
    """
    tables = list(reversed(db_.metadata.sorted_tables))
    if db_.engine.dialect.name == "postgresql":
        names = ", ".join('"{0}"'.format(table.name) for table in tables)
        statement = text("TRUNCATE {0} RESTART IDENTITY CASCADE".format(names))
        for attempt in range(5):
            try:
                db_.session.execute(statement)
                break
            except OperationalError as error:
                db_.session.rollback()
                if "deadlock detected" not in str(error) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
    else:
        for table in tables:
            db_.session.execute(table.delete())
    db_.session.commit()


@contextmanager
def empty_database() -> Iterator[Any]:
    """Empty every table, hand over the database, then empty them again."""
    clear_tables()
    try:
        yield db_
    finally:
        db_.session.rollback()
        db_.session.remove()
        clear_tables()


class QueryCounter:
    """Counts SQL statements sent to the database."""

    def __init__(self) -> None:
        """Start at zero."""
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Record one statement (SQLAlchemy ``before_cursor_execute``)."""
        self.statements.append(statement)

    @property
    def count(self) -> int:
        """Number of statements seen."""
        return len(self.statements)


@contextmanager
def counting_statements() -> Iterator[QueryCounter]:
    """Count the statements sent to the database inside the block."""
    counter = QueryCounter()
    engine = db_.engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)


#
# Requests
#
if TYPE_CHECKING:

    class JSONResponse(TestResponse):
        """A test response whose ``json`` the suite reads without a check.

        Werkzeug types ``json`` as ``Any | None`` (``None`` when the body is
        not JSON); a test indexing it fails then anyway, saying so.
        """

        @property
        def json(self) -> Any:
            """The body, parsed as JSON."""

else:
    JSONResponse = TestResponse


class IsolatedClient(FlaskClient):
    """A test client that serves each request as a separate client would.

    The tests keep an application context (and its database session) open;
    a request served in the same thread would share that context, its
    session and ``flask.g``. Serving it in its own thread gives it a fresh
    application context and session, as in production. The test's session
    commits before the request (so the request sees the test's changes) and
    is rolled back after it (so the test then reads what the request did).
    """

    if TYPE_CHECKING:
        # Only the response's type changes: see JSONResponse.
        def get(self, *args: Any, **kw: Any) -> JSONResponse: ...
        def post(self, *args: Any, **kw: Any) -> JSONResponse: ...
        def put(self, *args: Any, **kw: Any) -> JSONResponse: ...
        def delete(self, *args: Any, **kw: Any) -> JSONResponse: ...
        def patch(self, *args: Any, **kw: Any) -> JSONResponse: ...
        def options(self, *args: Any, **kw: Any) -> JSONResponse: ...
        def head(self, *args: Any, **kw: Any) -> JSONResponse: ...

    def open(self, *args: Any, **kwargs: Any) -> JSONResponse:
        """Serve one request in its own thread."""
        kwargs.setdefault("buffered", True)
        outcome: dict[str, Any] = {}

        def serve() -> None:
            try:
                outcome["response"] = super(IsolatedClient, self).open(*args, **kwargs)
            except BaseException as error:
                outcome["error"] = error

        if has_app_context():
            db_.session.commit()
        thread = threading.Thread(target=serve)
        thread.start()
        thread.join()
        if has_app_context():
            db_.session.rollback()
        if "error" in outcome:
            raise outcome["error"]
        response: JSONResponse = outcome["response"]
        return response


def create_record(client: IsolatedClient, data: "dict[str, Any] | None" = None) -> str:
    """Create a record through REST and return its PID value."""
    response = client.post(
        "/records/", data=json.dumps(data or {"title": "t"}), headers=JSON
    )
    assert response.status_code == 201, response.data
    pid: str = response.json["id"]
    return pid


def upload(
    client: IsolatedClient, pid: str, key: str, data: Any, **headers: str
) -> JSONResponse:
    """PUT ``data`` as the file ``key`` of record ``pid``; return the response."""
    return client.put(
        "/records/{0}/files/{1}".format(pid, key),
        data=data,
        headers={"Content-Type": "application/octet-stream", **headers},
    )


def stored_record(pid: str) -> "BucketRecord":
    """Return the record of the ``recid`` PID value ``pid``, from the database."""
    from invenio_pidstore.models import PersistentIdentifier

    uuid = PersistentIdentifier.get("recid", pid).object_uuid
    record: BucketRecord = Record.get_record(uuid)
    return record


if TYPE_CHECKING:

    class BucketRecord(Record):
        """A record with a bucket: the suite's records have one.

        ``Record.files`` and ``Record.bucket`` are ``None`` for a record
        without a bucket; the fixtures' and :func:`stored_record`'s records
        have one (a test reading ``None`` there fails anyway).
        """

        @property
        def files(self) -> FilesIterator:
            """The record's files."""

        @files.setter
        def files(self, data: Any) -> None:
            """Store files in a record that has none."""

        @property
        def bucket(self) -> Any:
            """The record's bucket."""

        @property
        def media_files(self) -> FilesIterator:
            """The record's media files."""

else:
    BucketRecord = Record


def files_of(record: Record) -> FilesIterator:
    """Return ``record.files`` of a record the test knows has a bucket."""
    files = record.files
    assert files is not None, "the record has no bucket"
    return files


def media_of(record: Record) -> FilesIterator:
    """Return ``record.media_files`` of a record the test knows has media files."""
    files = record.media_files
    assert files is not None, "the record has no media files bucket"
    return files


class TransactionProbe:
    """A request body that notes whether a database transaction is open."""

    def __init__(self, data: bytes) -> None:
        """Serve ``data``; nothing seen yet."""
        self.data = io.BytesIO(data)
        self.seen: list[bool] = []

    def read(self, size: int = -1) -> bytes:
        """Note whether a transaction is open, then read."""
        self.seen.append(db_.session().in_transaction())
        return self.data.read(size)

    def readline(self, size: int = -1) -> bytes:
        """Read a line."""
        return self.data.readline(size)

    def tell(self) -> int:
        """Return the position."""
        return self.data.tell()

    def seek(self, *args: int) -> int:
        """Move the position."""
        return self.data.seek(*args)


#
# Signals
#
@contextmanager
def receiving(signal: Any, fail: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Collect the keyword arguments of each ``signal`` sent in the block.

    With ``fail``, the receiver raises after noting the call, as a hook
    refusing the change would.
    """
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        if fail:
            raise RuntimeError("hook refused")

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


#
# Requests
#
OCTETS = {"Content-Type": "application/octet-stream"}


def bucket_of(pid: str) -> str:
    """Return the bucket id of the record ``pid``, as text."""
    return str(stored_record(pid).bucket_id)


def put(client: IsolatedClient, url: str, data: Any, **headers: str) -> JSONResponse:
    """PUT ``data`` as bytes."""
    return client.put(url, data=data, headers={**OCTETS, **headers})


def assert_refused(response: JSONResponse, status: int) -> None:
    """A refusal with its status and a JSON message, never 404 or 500."""
    assert response.status_code == status, response.data
    assert response.json["status"] == status
    assert response.json["message"]


def files_url(pid: str, *parts: str) -> str:
    """Return the URL of a record's files route, with ``parts`` after it."""
    return "/".join(["/records/{0}/files".format(pid), *parts])


def init(client: IsolatedClient, pid: str, entries: Any) -> JSONResponse:
    """Announce ``entries`` (the three-step upload's first step)."""
    return client.post(files_url(pid), data=json.dumps(entries), headers=JSON)


def put_content(
    client: IsolatedClient, pid: str, key: str, data: Any, **headers: str
) -> JSONResponse:
    """Upload the bytes of a pending file."""
    return client.put(
        files_url(pid, key, "content"),
        data=data,
        headers={"Content-Type": "application/octet-stream", **headers},
    )


def commit(client: IsolatedClient, pid: str, key: str) -> JSONResponse:
    """Complete a pending file."""
    return client.post(files_url(pid, key, "commit"))


#
# Transfers
#
def md5(data: bytes) -> str:
    """Return the checksum Invenio-Files-REST stores for ``data``."""
    return "md5:" + hashlib.md5(data).hexdigest()


def payload(size: int, seed: str = "parts") -> bytes:
    """Return ``size`` reproducible bytes that differ from seed to seed."""
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def multipart(
    key: str,
    data: bytes,
    parts: int,
    part_size: "int | None" = None,
    checksum: bool = True,
) -> dict[str, Any]:
    """Return the entry announcing ``data`` as a multipart transfer."""
    transfer: dict[str, Any] = {"type": "M", "parts": parts}
    if part_size:
        transfer["part_size"] = part_size
    entry: dict[str, Any] = {"key": key, "size": len(data), "transfer": transfer}
    if checksum:
        entry["checksum"] = md5(data)
    return entry


def fetch_entry(url: str, **extra: Any) -> dict[str, Any]:
    """Return the entry announcing a fetch of ``url`` as ``f.bin``."""
    return dict({"key": "f.bin", "transfer": {"type": "F", "url": url}}, **extra)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` over HTTP on loopback, in threads of this process; yield its URL.

    Each request gets its own thread, application context and session, as
    in production; the test's session must commit what the requests should
    see (and end its transaction to see what they did).
    """
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:{0}".format(server.server_port)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


class BytesSource:
    """Random access to bytes in memory, as the zip reader reads a file."""

    def __init__(self, data: bytes) -> None:
        """Serve ``data``."""
        self.data = bytes(data)
        self.size = len(self.data)

    def read_at(self, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset``."""
        return self.data[offset : offset + length]


#
# Corruption behind the library's back (fixity audit)
#
def corrupt_local(path: "str | os.PathLike[str]", offset: int = 0) -> None:
    """Change one byte of a stored file in place, keeping its size and times."""
    stat = os.stat(path)
    with open(path, "r+b") as fp:
        fp.seek(offset)
        byte = fp.read(1)
        fp.seek(offset)
        fp.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def corrupt_s3(s3: Any, uri: str, offset: int = 0) -> None:
    """Change one byte of a stored S3 object (``s3://bucket/key``) through boto3."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[offset] ^= 0xFF
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def backdate_files(seconds: float) -> None:
    """Make every file instance look stored (and last checked) ``seconds`` ago; commit."""
    from datetime import datetime, timedelta, timezone

    from invenio_files_rest.models import FileInstance
    from sqlalchemy import update

    then = datetime.now(tz=timezone.utc) - timedelta(seconds=seconds)
    db_.session.execute(
        update(FileInstance).values(
            created=then,
            last_check_at=None,
            last_check=True,
        )
    )
    db_.session.commit()
