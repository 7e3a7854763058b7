"""A real InvenioRDM client (inveniordm-py, from PyPI) drives the files routes.

The test application serves ``recid`` records at ``/records/<pid>`` and,
as InvenioRDM serves drafts, at ``/records/<pid>/draft`` too: the client
sends its files calls to ``/records/<pid>/draft/files``. It runs over real
HTTP (a threaded server on loopback in this process).
"""

import hashlib
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from inveniordm_py.client import InvenioAPI
from inveniordm_py.files.metadata import FilesListMetadata, OutgoingStream

from tests.helpers import IsolatedClient, create_record, serving, stored_record

DATA = b"depth,metres\nA,4.2\nB,7.9\n"


class RawStream(OutgoingStream):  # type: ignore[misc]  # inveniordm-py is untyped
    """The bytes of a file, as the client sends them.

    inveniordm-py 0.1.1's ``OutgoingStream(data=stream)`` hands requests
    the dict ``{"data": stream}``, which it form-encodes; the client means
    to send the stream itself, which this does.
    """

    def __init__(self, stream: bytes) -> None:
        self._data = stream


@pytest.fixture()
def rdm(app: Flask, client: IsolatedClient) -> Iterator[tuple[InvenioAPI, str]]:
    """An inveniordm-py client of the test application, and a record's PID."""
    pid = create_record(client)
    with serving(app) as url:
        yield InvenioAPI(url, "token-not-checked-here"), pid


def test_the_five_calls_of_an_invenio_rdm_client(
    rdm: tuple[InvenioAPI, str], db: SQLAlchemy
) -> None:
    api, pid = rdm
    files = api.records(pid).draft.files

    # 1. The three-step upload: announce, content, commit.
    announced = files.create(FilesListMetadata([{"key": "depths.csv"}]))
    assert [e["key"] for e in announced.data["entries"]] == ["depths.csv"]
    assert announced.data["entries"][0]["status"] == "pending"
    draft_file = files("depths.csv")
    draft_file.set_contents(RawStream(DATA))
    committed = draft_file.commit().data
    assert committed["status"] == "completed"
    assert committed["checksum"] == "md5:" + hashlib.md5(DATA).hexdigest()

    # 2. The listing.
    listing = files.get().data
    assert [entry["key"] for entry in listing["entries"]] == ["depths.csv"]
    assert listing["entries"][0]["size"] == len(DATA)

    # 3. The download (no Accept: the bytes).
    response = draft_file.download()
    assert response.status_code == 200
    assert response.content == DATA

    # 4. The file's metadata (Accept: application/json).
    entry = files("depths.csv").get().data
    assert entry["key"] == "depths.csv"
    assert entry["size"] == len(DATA)
    assert entry["checksum"] == "md5:" + hashlib.md5(DATA).hexdigest()
    assert entry["mimetype"] == "text/csv"
    assert entry["status"] == "completed"
    assert entry["metadata"] == {}
    base = "/records/{0}/draft/files/depths.csv".format(pid)
    assert entry["links"]["self"].endswith(base)
    assert entry["links"]["content"].endswith(base + "/content")
    assert entry["links"]["commit"].endswith(base + "/commit")

    # 5. The delete.
    assert files("depths.csv").delete() is True
    db.session.rollback()
    assert stored_record(pid).files.keys == []
    assert [e["key"] for e in files.get().data["entries"]] == []
