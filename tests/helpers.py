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
from contextlib import contextmanager
from io import BytesIO

from flask import has_app_context
from flask.testing import FlaskClient
from invenio_db import db as db_
from sqlalchemy import event, text

from invenio_records_files_ext.api import Record

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
def stream(data=b"Hello, World"):
    """Return a readable stream of ``data``."""
    return BytesIO(data)


def storage_files(root):
    """Return the set of files under a storage folder."""
    found = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            found.add(os.path.join(dirpath, name))
    return found


#
# Database
#
def reset_schema():
    """Start PostgreSQL from an empty schema (earlier runs may have left tables).

    Needs an application context; does nothing on SQLite, whose database
    file is new in each run.
    """
    if db_.engine.dialect.name == "postgresql":
        with db_.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))


def clear_tables():
    """Delete every row of every table, and commit."""
    tables = list(reversed(db_.metadata.sorted_tables))
    if db_.engine.dialect.name == "postgresql":
        names = ", ".join('"{0}"'.format(table.name) for table in tables)
        db_.session.execute(text("TRUNCATE {0} RESTART IDENTITY CASCADE".format(names)))
    else:
        for table in tables:
            db_.session.execute(table.delete())
    db_.session.commit()


@contextmanager
def empty_database():
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

    def __init__(self):
        """Start at zero."""
        self.statements = []

    def __call__(self, conn, cursor, statement, *args):
        """Record one statement (SQLAlchemy ``before_cursor_execute``)."""
        self.statements.append(statement)

    @property
    def count(self):
        """Number of statements seen."""
        return len(self.statements)


@contextmanager
def counting_statements():
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
class IsolatedClient(FlaskClient):
    """A test client that serves each request as a separate client would.

    The tests keep an application context (and its database session) open;
    a request served in the same thread would share that context, its
    session and ``flask.g``. Serving it in its own thread gives it a fresh
    application context and session, as in production. The test's session
    commits before the request (so the request sees the test's changes) and
    is rolled back after it (so the test then reads what the request did).
    """

    def open(self, *args, **kwargs):
        """Serve one request in its own thread."""
        kwargs.setdefault("buffered", True)
        outcome = {}

        def serve():
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
        return outcome["response"]


def create_record(client, data=None):
    """Create a record through REST and return its PID value."""
    response = client.post(
        "/records/", data=json.dumps(data or {"title": "t"}), headers=JSON
    )
    assert response.status_code == 201, response.data
    return response.json["id"]


def upload(client, pid, key, data, **headers):
    """PUT ``data`` as the file ``key`` of record ``pid``; return the response."""
    return client.put(
        "/records/{0}/files/{1}".format(pid, key),
        data=data,
        headers={"Content-Type": "application/octet-stream", **headers},
    )


def stored_record(pid):
    """Return the record of the ``recid`` PID value ``pid``, from the database."""
    from invenio_pidstore.models import PersistentIdentifier

    uuid = PersistentIdentifier.get("recid", pid).object_uuid
    return Record.get_record(uuid)


class TransactionProbe:
    """A request body that notes whether a database transaction is open."""

    def __init__(self, data):
        """Serve ``data``; nothing seen yet."""
        self.data = io.BytesIO(data)
        self.seen = []

    def read(self, size=-1):
        """Note whether a transaction is open, then read."""
        self.seen.append(db_.session().in_transaction())
        return self.data.read(size)

    def readline(self, size=-1):
        """Read a line."""
        return self.data.readline(size)

    def tell(self):
        """Return the position."""
        return self.data.tell()

    def seek(self, *args):
        """Move the position."""
        return self.data.seek(*args)


#
# Signals
#
@contextmanager
def receiving(signal, fail=False):
    """Collect the keyword arguments of each ``signal`` sent in the block.

    With ``fail``, the receiver raises after noting the call, as a hook
    refusing the change would.
    """
    calls = []

    def receiver(sender, **kwargs):
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


def bucket_of(pid):
    """Return the bucket id of the record ``pid``, as text."""
    return str(stored_record(pid).bucket_id)


def put(client, url, data, **headers):
    """PUT ``data`` as bytes."""
    return client.put(url, data=data, headers={**OCTETS, **headers})


def assert_refused(response, status):
    """A refusal with its status and a JSON message, never 404 or 500."""
    assert response.status_code == status, response.data
    assert response.json["status"] == status
    assert response.json["message"]


def files_url(pid, *parts):
    """Return the URL of a record's files route, with ``parts`` after it."""
    return "/".join(["/records/{0}/files".format(pid), *parts])


def init(client, pid, entries):
    """Announce ``entries`` (the three-step upload's first step)."""
    return client.post(files_url(pid), data=json.dumps(entries), headers=JSON)


def put_content(client, pid, key, data, **headers):
    """Upload the bytes of a pending file."""
    return client.put(
        files_url(pid, key, "content"),
        data=data,
        headers={"Content-Type": "application/octet-stream", **headers},
    )


def commit(client, pid, key):
    """Complete a pending file."""
    return client.post(files_url(pid, key, "commit"))


#
# Transfers
#
def md5(data):
    """Return the checksum Invenio-Files-REST stores for ``data``."""
    return "md5:" + hashlib.md5(data).hexdigest()


def payload(size, seed="parts"):
    """Return ``size`` reproducible bytes that differ from seed to seed."""
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def multipart(key, data, parts, part_size=None, checksum=True):
    """Return the entry announcing ``data`` as a multipart transfer."""
    transfer = {"type": "M", "parts": parts}
    if part_size:
        transfer["part_size"] = part_size
    entry = {"key": key, "size": len(data), "transfer": transfer}
    if checksum:
        entry["checksum"] = md5(data)
    return entry


def fetch_entry(url, **extra):
    """Return the entry announcing a fetch of ``url`` as ``f.bin``."""
    return dict({"key": "f.bin", "transfer": {"type": "F", "url": url}}, **extra)


@contextmanager
def serving(app):
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

    def __init__(self, data):
        """Serve ``data``."""
        self.data = bytes(data)
        self.size = len(self.data)

    def read_at(self, offset, length):
        """Return up to ``length`` bytes from ``offset``."""
        return self.data[offset : offset + length]


#
# Corruption behind the library's back (fixity audit)
#
def corrupt_local(path, offset=0):
    """Change one byte of a stored file in place, keeping its size and times."""
    stat = os.stat(path)
    with open(path, "r+b") as fp:
        fp.seek(offset)
        byte = fp.read(1)
        fp.seek(offset)
        fp.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def corrupt_s3(s3, uri, offset=0):
    """Change one byte of a stored S3 object (``s3://bucket/key``) through boto3."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[offset] ^= 0xFF
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def backdate_files(seconds):
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
