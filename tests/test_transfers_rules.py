"""Quotas, hooks and dumps stay exact through fetch, remote and multipart."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from invenio_records_files_ext import signals
from invenio_records_files_ext.records.dumpers import add_files_to_index
from tests.helpers import (
    IsolatedClient,
    commit,
    create_record,
    fetch_entry,
    files_url,
    init,
    multipart,
    payload,
    put_content,
    storage_files,
    stored_record,
    upload,
)
from tests.httpserver import SourceServer

REMOTE = "https://data.example.org/"


def remote(key: str, size: int) -> dict[str, Any]:
    return {"key": key, "size": size, "transfer": {"type": "R", "url": REMOTE + key}}


@contextmanager
def added_keys() -> Iterator[list[str]]:
    """Collect the keys of the files ``file_added`` announces."""
    keys: list[str] = []

    def receiver(sender: Any, file: Any = None, **kwargs: Any) -> None:
        keys.append(file.key)

    signals.file_added.connect(receiver)
    try:
        yield keys
    finally:
        signals.file_added.disconnect(receiver)


def test_pending_files_stay_out_of_dumps(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "done.txt", b"done").status_code == 200
    init(client, pid, [{"key": "local.txt", "size": 5}])
    put_content(client, pid, "local.txt", b"12345")
    init(client, pid, [multipart("parts.bin", payload(30), 2, 20)])
    record = stored_record(pid)
    assert record.files.bucket.size == 4 + 5 + 30  # reservations included
    dump = record.dumps()
    assert [f["key"] for f in dump["_files"]] == ["done.txt"]
    assert dump["_files_summary"]["count"] == 1
    assert dump["_files_summary"]["total_bytes"] == 4
    indexed: dict[str, Any] = {}
    add_files_to_index(None, json=indexed, record=stored_record(pid))
    assert [f["key"] for f in indexed["_files"]] == ["done.txt"]
    assert indexed["_files_summary"]["count"] == 1
    assert [f["key"] for f in record.files.dumps()] == ["done.txt"]
    assert record.files.keys == ["done.txt"]


def test_quota_through_every_transfer_type(
    client: IsolatedClient, db: SQLAlchemy, location: Location, fetching: SourceServer
) -> None:
    pid = create_record(client)
    record = stored_record(pid)
    record.files.bucket.quota_size = 100
    db.session.commit()
    assert init(client, pid, [remote("r1", 60)]).status_code == 201
    for refused in (
        remote("r2", 50),
        multipart("m.bin", payload(50), 2, 25),
        fetch_entry(fetching.add("big.bin", b"b" * 50), key="f1", size=50),
        {"key": "l.bin", "size": 50},
    ):
        response = init(client, pid, [refused])
        assert response.status_code == 400, (refused, response.json)
        assert "quota" in response.json["message"].lower(), response.json
    # A fetch without a size is stopped once the bytes pass the quota; it
    # leaves no bytes and no reservation.
    url = fetching.add("unsized.bin", b"u" * 50)
    assert init(client, pid, [fetch_entry(url, key="f2")]).status_code == 201
    [entry] = client.get(files_url(pid)).json["entries"][:1]
    assert entry["key"] == "f2"
    assert entry["status"] == "failed"
    assert "quota" in entry["transfer"]["error"].lower(), entry
    assert storage_files(location.uri) == set()
    record = stored_record(pid)
    assert record.files.bucket.size == 60
    assert record.files.keys == ["r1"]
    # Within the quota, each type fits.
    url = fetching.add("small.bin", b"s" * 10)
    assert init(client, pid, [fetch_entry(url, key="f3", size=10)]).status_code == 201
    data = payload(20)
    assert init(client, pid, [multipart("m.bin", data, 2, 10)]).status_code == 201
    parts = client.get(files_url(pid)).json["entries"]
    [m_entry] = [e for e in parts if e["key"] == "m.bin"]
    for link in m_entry["links"]["parts"]:
        start = (link["part"] - 1) * 10
        assert client.put(link["url"], data=data[start : start + 10]).status_code == 200
    assert commit(client, pid, "m.bin").json["status"] == "completed"
    assert init(client, pid, [remote("r3", 10)]).status_code == 201
    record = stored_record(pid)
    assert sorted(record.files.keys) == ["f3", "m.bin", "r1", "r3"]
    assert record.files.bucket.size == 100
    assert init(client, pid, [remote("r4", 1)]).status_code == 400


def test_file_added_once_per_transfer_type(
    client: IsolatedClient, db: SQLAlchemy, location: Location, fetching: SourceServer
) -> None:
    pid = create_record(client)
    url = fetching.add("hooked.bin", b"h" * 10)
    data = payload(20)
    with added_keys() as added:
        init(client, pid, [remote("r", 5)])
        assert added == ["r"]
        init(client, pid, [fetch_entry(url, key="f")])
        assert added == ["r", "f"]
        response = init(client, pid, [multipart("m", data, 2, 10)])
        for link in response.json["entries"][0]["links"]["parts"]:
            start = (link["part"] - 1) * 10
            client.put(link["url"], data=data[start : start + 10])
        assert len(added) == 2
        commit(client, pid, "m")
        commit(client, pid, "m")
        assert added == ["r", "f", "m"]
    assert sorted(stored_record(pid).files.keys) == ["f", "m", "r"]
