"""What a record says about its files stays true; nobody reaches what they should not.

Covers the defects of invenio-records-files this library removes: stale
``_files`` after REST changes, record updates losing files or hijacking
buckets, file routes ignoring record permissions, no per-record limits; and
bad input (keys, Content-MD5, sizes, unknown or deleted records).
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Optional

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import FileInstance, Location, ObjectVersion
from werkzeug.exceptions import HTTPException

from invenio_records_files_ext.api import Record
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    files_of,
    storage_files,
    stored_record,
    stream,
    upload,
)
from tests.users import Allowed, as_user, owner_permissions

JSON = {"Content-Type": "application/json"}


def nothing_stored(location: Location, pid: Optional[str] = None) -> None:
    """No object version, no file instance, no bytes."""
    assert ObjectVersion.query.count() == 0
    assert FileInstance.query.count() == 0
    assert storage_files(location.uri) == set()
    if pid is not None:
        assert stored_record(pid).get("_files", []) == []


#
# 2. Record updates keep files and bucket
#
def test_records_rest_put_keeps_files(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    before = stored_record(pid)
    response = client.put(
        "/records/{0}".format(pid), data=json.dumps({"title": "new"}), headers=JSON
    )
    assert response.status_code == 200, response.data
    after = stored_record(pid)
    assert after["title"] == "new"
    assert after["_bucket"] == before["_bucket"]
    assert after["_files"] == before["_files"]
    assert client.get("/records/{0}/files/a.txt".format(pid)).data == b"a"
    assert upload(client, pid, "b.txt", b"b").status_code == 200
    assert stored_record(pid).files.keys == ["a.txt", "b.txt"]


def test_records_rest_put_cannot_hijack_a_bucket(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    victim = create_record(client)
    upload(client, victim, "secret.txt", b"secret")
    victim_bucket = stored_record(victim)["_bucket"]
    intruder = create_record(client)
    own_bucket = stored_record(intruder)["_bucket"]
    body = {"title": "x", "_bucket": victim_bucket, "_files": []}
    response = client.put(
        "/records/{0}".format(intruder), data=json.dumps(body), headers=JSON
    )
    assert response.status_code == 200
    assert stored_record(intruder)["_bucket"] == own_bucket
    assert (
        client.get("/records/{0}/files/secret.txt".format(intruder)).status_code == 404
    )
    assert client.get("/records/{0}/files".format(intruder)).json["contents"] == []
    upload(client, intruder, "secret.txt", b"overwritten")
    assert client.get("/records/{0}/files/secret.txt".format(victim)).data == b"secret"


def test_records_rest_create_cannot_hijack_a_bucket(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    victim = create_record(client)
    upload(client, victim, "secret.txt", b"secret")
    body = {"_bucket": stored_record(victim)["_bucket"], "_files": [{"key": "x"}]}
    intruder = create_record(client, body)
    assert stored_record(intruder)["_bucket"] != body["_bucket"]
    assert (
        client.get("/records/{0}/files/secret.txt".format(intruder)).status_code == 404
    )


def test_records_rest_patch_keeps_files(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    patch = [
        {"op": "remove", "path": "/_files"},
        {"op": "replace", "path": "/_bucket", "value": "x"},
    ]
    response = client.patch(
        "/records/{0}".format(pid),
        data=json.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200, response.data
    assert stored_record(pid).files.keys == ["a.txt"]
    assert client.get("/records/{0}/files/a.txt".format(pid)).data == b"a"


#
# 3. Record permissions
#
@pytest.fixture()
def secured(
    app: Flask, client: IsolatedClient, monkeypatch: pytest.MonkeyPatch
) -> IsolatedClient:
    owner_permissions(monkeypatch, app)
    return client


def _private_record(client: IsolatedClient, owner: str = "alice") -> str:
    return create_record(client, {"title": "private", "owners": [owner]})


def test_read_needs_record_read_permission(
    secured: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = _private_record(secured)
    upload(secured, pid, "a.txt", b"a", **as_user("alice"))
    for url in (
        "/records/{0}/files",
        "/records/{0}/files/a.txt",
        "/records/{0}/files?versions",
    ):
        url = url.format(pid)
        anonymous = secured.get(url)
        assert anonymous.status_code == 401
        assert anonymous.json["message"]
        assert secured.get(url, headers=as_user("bob")).status_code == 403
        assert secured.get(url, headers=as_user("alice")).status_code == 200
    assert secured.head("/records/{0}/files/a.txt".format(pid)).status_code == 401


def test_public_record_is_readable_by_anyone(
    secured: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(secured, {"public": True, "owners": ["alice"]})
    upload(secured, pid, "a.txt", b"a", **as_user("alice"))
    assert secured.get("/records/{0}/files/a.txt".format(pid)).data == b"a"
    assert upload(secured, pid, "b.txt", b"b").status_code == 401


def test_writes_need_record_update_permission(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = _private_record(secured)
    assert upload(secured, pid, "a.txt", b"a").status_code == 401
    response = upload(secured, pid, "a.txt", b"a", **as_user("bob"))
    assert response.status_code == 403
    assert response.json["status"] == 403
    nothing_stored(location, pid)
    assert upload(secured, pid, "a.txt", b"a", **as_user("alice")).status_code == 200
    url = "/records/{0}/files/a.txt".format(pid)
    assert secured.delete(url, headers=as_user("bob")).status_code == 403
    assert (
        secured.post(
            url + "?uploads&size=10&partSize=5", headers=as_user("bob")
        ).status_code
        == 403
    )
    assert secured.get(url, headers=as_user("alice")).data == b"a"
    assert stored_record(pid).files.keys == ["a.txt"]


def test_permission_factory_can_be_replaced(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deny_reads(
        record: Optional[BucketRecord] = None,
        action: Optional[str] = None,
        endpoint: Optional[Mapping[str, Any]] = None,
    ) -> Allowed:
        return Allowed(action != "read")

    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    monkeypatch.setitem(app.config, "RECORDS_FILES_REST_PERMISSION_FACTORY", deny_reads)
    assert client.get("/records/{0}/files/a.txt".format(pid)).status_code == 401
    assert upload(client, pid, "b.txt", b"b").status_code == 200


#
# 4. Limits
#
@pytest.fixture()
def limits(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_BUCKET_QUOTA_SIZE", 20)
    monkeypatch.setitem(app.config, "RECORDS_FILES_BUCKET_MAX_FILE_SIZE", 12)


def test_rest_upload_over_max_file_size(
    client: IsolatedClient, db: SQLAlchemy, location: Location, limits: None
) -> None:
    pid = create_record(client)
    response = upload(client, pid, "big.bin", b"x" * 13)
    assert response.status_code == 400
    assert "size" in response.json["message"].lower()
    nothing_stored(location, pid)


def test_rest_upload_over_quota(
    client: IsolatedClient, db: SQLAlchemy, location: Location, limits: None
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "a.bin", b"x" * 12).status_code == 200
    response = upload(client, pid, "b.bin", b"y" * 10)
    assert response.status_code == 400
    assert "quota" in response.json["message"].lower()
    assert stored_record(pid).files.keys == ["a.bin"]
    assert FileInstance.query.count() == 1
    assert len(storage_files(location.uri)) == 1


def test_python_upload_over_limit_leaves_nothing(
    db: SQLAlchemy, location: Location, limits: None
) -> None:
    from invenio_files_rest.errors import FileSizeError

    record = Record.create({})
    db.session.commit()
    with pytest.raises(FileSizeError):
        files_of(record)["big.bin"] = stream(b"x" * 13)
    db.session.commit()
    with pytest.raises(FileSizeError):
        files_of(record).update({"a": stream(b"x" * 12), "b": stream(b"y" * 9)})
    db.session.commit()
    nothing_stored(location)
    assert Record.get_record(record.id).get("_files", []) == []


def test_multipart_over_limit(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, location: Location, limits: None
) -> None:
    pid = create_record(client)
    response = client.post(
        "/records/{0}/files/big.bin?uploads&size=30&partSize=10".format(pid)
    )
    assert response.status_code == 400
    nothing_stored(location, pid)


#
# Bad input
#
@pytest.mark.parametrize(
    "path",
    [
        "a/../b.txt",
        "./a.txt",
        "dir//file.txt",
        "nul%00.txt",
        "bell%07.txt",
        "del%7F.txt",
        "x" * 1025,
        "%C3%A9" * 513,
    ],
)
def test_rest_refuses_bad_keys(
    client: IsolatedClient, db: SQLAlchemy, location: Location, path: str
) -> None:
    pid = create_record(client)
    response = client.put(
        "/records/{0}/files/{1}".format(pid, path),
        data=b"data",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 400, response.data
    assert "key" in response.json["message"].lower()
    nothing_stored(location, pid)


@pytest.mark.parametrize(
    "key", ["", ".", "..", "a/./b", "/x", "a\x00b", "tab\tkey", "x" * 1025]
)
def test_python_refuses_bad_keys(
    record: BucketRecord, db: SQLAlchemy, location: Location, key: str
) -> None:
    with pytest.raises(ValueError):
        record.files[key] = stream()
    db.session.commit()
    nothing_stored(location)


@pytest.mark.parametrize(
    "key", ["été.txt", "with space.txt", "dir/sub/file.txt", "日本語.pdf", "x" * 1024]
)
def test_good_keys_work(client: IsolatedClient, db: SQLAlchemy, key: str) -> None:
    from urllib.parse import quote

    pid = create_record(client)
    response = upload(client, pid, quote(key), b"content")
    assert response.status_code == 200, response.data
    assert response.json["key"] == key
    assert (
        client.get("/records/{0}/files/{1}".format(pid, quote(key))).data == b"content"
    )
    assert stored_record(pid).files.keys == [key]


def test_key_length_is_configurable(
    app: Flask, record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_KEY_MAX_LENGTH", 8)
    with pytest.raises(ValueError):
        record.files["123456789"] = stream()
    record.files["12345678"] = stream()


def test_content_md5(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    body = b"checked body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert (
        upload(client, pid, "a.txt", body, **{"Content-MD5": good}).status_code == 200
    )
    hex_md5 = hashlib.md5(body).hexdigest()
    assert (
        upload(client, pid, "b.txt", body, **{"Content-MD5": hex_md5}).status_code
        == 200
    )
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    response = upload(client, pid, "c.txt", body, **{"Content-MD5": wrong})
    assert response.status_code == 400
    assert "content-md5" in response.json["message"].lower()
    response = upload(client, pid, "d.txt", body, **{"Content-MD5": "not-a-digest"})
    assert response.status_code == 400
    assert stored_record(pid).files.keys == ["a.txt", "b.txt"]
    assert len(storage_files(location.uri)) == 2


def test_content_md5_mismatch_on_replace_keeps_old_version(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"original")
    wrong = base64.b64encode(hashlib.md5(b"nope").digest()).decode()
    assert (
        upload(
            client, pid, "a.txt", b"replacement", **{"Content-MD5": wrong}
        ).status_code
        == 400
    )
    assert client.get("/records/{0}/files/a.txt".format(pid)).data == b"original"


def test_python_size_mismatch(
    record: BucketRecord, db: SQLAlchemy, location: Location
) -> None:
    with pytest.raises(Exception) as error:
        record.files.put("a.txt", stream(b"12345"), size=10)
    assert isinstance(error.value, HTTPException)  # Files-REST's errors are HTTP's
    assert error.value.code == 400
    with pytest.raises(ValueError):
        record.files.put("a.txt", stream(b"12345"), content_md5="0" * 32)
    db.session.commit()
    nothing_stored(location)


def test_soft_deleted_record_files_are_gone(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    assert client.delete("/records/{0}".format(pid)).status_code == 204
    for method in ("get", "put", "delete", "head"):
        response = getattr(client, method)("/records/{0}/files/a.txt".format(pid))
        assert response.status_code == 410, method
    response = client.get("/records/{0}/files".format(pid))
    assert response.status_code == 410
    assert response.json["status"] == 410


def test_locked_files_refuse_rest_writes(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    record = stored_record(pid)
    record.files.lock()
    db.session.commit()
    url = "/records/{0}/files/a.txt".format(pid)
    response = upload(client, pid, "a.txt", b"changed")
    assert response.status_code == 403
    assert "locked" in response.json["message"].lower()
    assert client.delete(url).status_code == 403
    assert client.post(url + "?uploads&size=10&partSize=5").status_code == 403
    assert client.get(url).data == b"a"
