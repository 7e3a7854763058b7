"""Concurrent writers of one record: quotas stay exact, keys stay in order.

Invenio-Files-REST reserves a multipart upload's size without locking the
bucket: on PostgreSQL, six parallel starts against a 6 MiB quota all
succeeded (30 MB announced while ``bucket.size`` said 5 MB), and mixing
them with PUTs left 20 MB reserved. Here every start, upload and abort goes
through the bucket's row lock (``locks.charge``). Real concurrent requests
through gunicorn, on PostgreSQL.
"""

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Optional, cast

import pytest
import requests
from flask import Flask
from invenio_db import db
from invenio_files_rest.models import Bucket, Location, MultipartObject, ObjectVersion
from sqlalchemy import func, select

from tests.loadtools import is_postgresql
from tests.servers import Server

pytestmark = [
    pytest.mark.gunicorn,
    pytest.mark.skipif(
        not is_postgresql(os.environ.get("SQLALCHEMY_DATABASE_URI", "")),
        reason="the race needs PostgreSQL's concurrent writers: set "
        "SQLALCHEMY_DATABASE_URI to a postgresql URI (run-tests.sh does)",
    ),
]

MIB = 1024 * 1024
PART = 5 * MIB
UPLOAD = 5242980
"""Announced size of each multipart upload: one full part and a bit."""
QUOTA = 6 * MIB

Request = tuple[str, str, dict[str, Any]]
"""What :func:`at_once` sends: method, URL and the keywords of ``requests``."""


@pytest.fixture(scope="module")
def server(
    app: Flask, base_config: dict[str, Any], instance_path: str
) -> Iterator[Server]:
    env = {
        "SQLALCHEMY_DATABASE_URI": base_config["SQLALCHEMY_DATABASE_URI"],
        "FILES_STORAGE_PATH": base_config["FILES_STORAGE_PATH"],
        "DEMO_INSTANCE_PATH": os.path.join(instance_path, "quota-race"),
    }
    os.makedirs(env["DEMO_INSTANCE_PATH"], exist_ok=True)
    running = Server("gunicorn", env, workers=6)
    yield running
    running.stop()


@pytest.fixture()
def http(server: Server, location: Location) -> str:
    return server.url


def record_with_quota(http: str, quota: Optional[int]) -> tuple[str, str]:
    created = requests.post(http + "/records/", json={"title": "quota"})
    assert created.status_code == 201, created.text
    bucket_id = created.json()["metadata"]["_bucket"]
    bucket = db.session.get(Bucket, bucket_id)
    bucket.quota_size = quota
    db.session.commit()
    return created.json()["id"], bucket_id


def at_once(requests_to_send: Sequence[Request]) -> list[requests.Response]:
    """Send requests from threads released together; return the responses."""
    barrier = threading.Barrier(len(requests_to_send))
    responses: list[Optional[requests.Response]] = [None] * len(requests_to_send)

    def send(index: int, method: str, url: str, kwargs: dict[str, Any]) -> None:
        session = requests.Session()
        barrier.wait()
        responses[index] = session.request(method, url, timeout=(10, 120), **kwargs)

    threads = [
        threading.Thread(target=send, args=(index, *request))
        for index, request in enumerate(requests_to_send)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    # A thread that raised or is still running left None: its test then
    # fails on it.
    return cast(list[requests.Response], responses)


def start_request(http: str, pid: str, key: str, size: int = UPLOAD) -> Request:
    return (
        "POST",
        "{0}/records/{1}/files/{2}?uploads&size={3}&partSize={4}".format(
            http, pid, key, size, PART
        ),
        {},
    )


def put_request(http: str, pid: str, key: str, body: bytes) -> Request:
    return (
        "PUT",
        "{0}/records/{1}/files/{2}".format(http, pid, key),
        {"data": body, "headers": {"Content-Type": "application/octet-stream"}},
    )


def accounted(bucket_id: str) -> tuple[int, int]:
    """Return ``(bucket.size, bytes of current files + open uploads)``."""
    db.session.rollback()
    size = db.session.execute(
        select(Bucket.size).where(Bucket.id == bucket_id)
    ).scalar_one()
    files = db.session.execute(
        select(func.coalesce(func.sum(ObjectVersion.file.property.mapper.c.size), 0))
        .select_from(ObjectVersion)
        .join(ObjectVersion.file)
        .where(ObjectVersion.bucket_id == bucket_id, ObjectVersion.is_head.is_(True))
    ).scalar_one()
    uploads = db.session.execute(
        select(func.coalesce(func.sum(MultipartObject.size), 0)).where(
            MultipartObject.bucket_id == bucket_id,
            MultipartObject.completed.is_(False),
        )
    ).scalar_one()
    return size, files + uploads


def check_refusals(responses: Iterable[requests.Response]) -> None:
    for response in responses:
        if response.status_code != 200:
            assert response.status_code == 400, response.text
            assert "quota" in response.json()["message"].lower(), response.text


@pytest.mark.parametrize("room_for", [1, 3])
def test_parallel_multipart_starts_respect_the_quota(http: str, room_for: int) -> None:
    pid, bucket_id = record_with_quota(http, room_for * UPLOAD + 100)
    responses = at_once(
        [start_request(http, pid, "big{0}.bin".format(n)) for n in range(8)]
    )
    started = [r for r in responses if r.status_code == 200]
    assert len(started) == room_for, [r.text for r in responses]
    check_refusals(responses)
    size, expected = accounted(bucket_id)
    assert size == expected == room_for * UPLOAD


def test_mixed_puts_and_starts_respect_the_quota(http: str) -> None:
    body = os.urandom(4 * MIB)
    for _ in range(3):
        pid, bucket_id = record_with_quota(http, QUOTA)
        requests_to_send: list[Request] = []
        for n in range(3):
            requests_to_send.append(start_request(http, pid, "mp{0}.bin".format(n)))
            requests_to_send.append(
                put_request(http, pid, "put{0}.bin".format(n), body)
            )
        responses = at_once(requests_to_send)
        # Any two of them together pass the quota: exactly one gets in.
        assert [r.status_code for r in responses].count(200) == 1, [
            r.text for r in responses
        ]
        check_refusals(responses)
        size, expected = accounted(bucket_id)
        assert size == expected <= QUOTA


def test_aborts_give_the_reservation_back(http: str) -> None:
    pid, bucket_id = record_with_quota(http, 2 * UPLOAD)
    first = at_once([start_request(http, pid, "a{0}.bin".format(n)) for n in range(4)])
    ids = [(r.json()["key"], r.json()["id"]) for r in first if r.status_code == 200]
    assert len(ids) == 2
    assert accounted(bucket_id) == (2 * UPLOAD, 2 * UPLOAD)

    # Aborts and new starts race: the aborts free room the starts may take.
    aborts: list[Request] = [
        ("DELETE", "{0}/records/{1}/files/{2}?uploadId={3}".format(http, pid, k, i), {})
        for k, i in ids
    ]
    starts = [start_request(http, pid, "b{0}.bin".format(n)) for n in range(4)]
    responses = at_once(aborts + starts)
    assert [r.status_code for r in responses[:2]] == [204, 204]
    check_refusals(responses[2:])
    started = sum(r.status_code == 200 for r in responses[2:])
    assert started <= 2
    size, expected = accounted(bucket_id)
    assert size == expected == started * UPLOAD

    # Once every upload is aborted, the whole quota is free again.
    for response in responses[2:]:
        if response.status_code == 200:
            aborted = requests.delete(
                "{0}/records/{1}/files/{2}?uploadId={3}".format(
                    http, pid, response.json()["key"], response.json()["id"]
                )
            )
            assert aborted.status_code == 204
    assert accounted(bucket_id) == (0, 0)
    whole = requests.put(
        "{0}/records/{1}/files/whole.bin".format(http, pid),
        data=os.urandom(2 * UPLOAD),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert whole.status_code == 200, whole.text
    assert accounted(bucket_id) == (2 * UPLOAD, 2 * UPLOAD)


def test_parallel_writers_of_one_key_stay_in_order(http: str) -> None:
    """Uploads, renames and deletes of one key at once: one head, one row.

    Writers of the same key wait for each other (a per-key lock), so every
    upload becomes a version, the last one is the current file, and the
    record's row names it: no second head, no lost row, no 500.
    """
    from invenio_records_files_ext.models import FileEntry

    pid, bucket_id = record_with_quota(http, None)
    bodies = [os.urandom(1024 + n) for n in range(12)]
    responses = at_once([put_request(http, pid, "same.bin", body) for body in bodies])
    assert [r.status_code for r in responses] == [200] * 12, [r.text for r in responses]
    db.session.rollback()
    versions = (
        db.session.execute(
            select(ObjectVersion)
            .where(
                ObjectVersion.bucket_id == bucket_id, ObjectVersion.key == "same.bin"
            )
            .order_by(ObjectVersion.created)
        )
        .scalars()
        .all()
    )
    assert len(versions) == 12
    heads = [obj for obj in versions if obj.is_head]
    assert len(heads) == 1
    rows = (
        db.session.execute(select(FileEntry).where(FileEntry.bucket_id == bucket_id))
        .scalars()
        .all()
    )
    assert [(row.key, row.version_id) for row in rows] == [
        ("same.bin", heads[0].version_id)
    ]
    downloaded = requests.get(
        "{0}/records/{1}/files/same.bin".format(http, pid), timeout=30
    )
    with heads[0].file.storage().open("rb") as stored:
        assert downloaded.content == stored.read()
    size, expected = accounted(bucket_id)
    assert size == sum(obj.file.size for obj in versions)

    # Deletes, renames and new uploads of the key at once: each either wins
    # or is refused cleanly; the rows end up agreeing with the bucket.
    mixed = at_once(
        [
            ("DELETE", "{0}/records/{1}/files/same.bin".format(http, pid), {}),
            put_request(http, pid, "same.bin", b"again"),
            put_request(http, pid, "same.bin", b"and again"),
        ]
    )
    assert all(r.status_code in (200, 204, 404) for r in mixed), [r.text for r in mixed]
    db.session.rollback()
    head = db.session.execute(
        select(ObjectVersion).where(
            ObjectVersion.bucket_id == bucket_id,
            ObjectVersion.key == "same.bin",
            ObjectVersion.is_head.is_(True),
        )
    ).scalar_one()
    rows = (
        db.session.execute(select(FileEntry).where(FileEntry.bucket_id == bucket_id))
        .scalars()
        .all()
    )
    if head.file_id is None:
        assert rows == []
    else:
        assert [(row.key, row.version_id) for row in rows] == [
            ("same.bin", head.version_id)
        ]
