"""REST routes, through Flask's test client."""

import hashlib
import json

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location, ObjectVersion

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.views import create_blueprint_from_app
from tests.helpers import (
    IsolatedClient,
    TransactionProbe,
    create_record,
    storage_files,
    stored_record,
    stream,
    upload,
)


def test_upload_list_download_delete(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    response = upload(client, pid, "hello.txt", b"Hello, World")
    assert response.status_code == 200, response.data
    body = response.json
    assert body["key"] == "hello.txt"
    assert body["size"] == 12
    assert body["checksum"] == "md5:" + hashlib.md5(b"Hello, World").hexdigest()
    assert body["links"][
        "self"
    ] == "http://localhost/records/{0}/files/hello.txt".format(pid)
    assert "LazyPIDValue" not in json.dumps(body)

    listing = client.get("/records/{0}/files".format(pid))
    assert listing.status_code == 200
    assert [item["key"] for item in listing.json["contents"]] == ["hello.txt"]
    assert listing.json["links"]["self"] == "http://localhost/records/{0}/files".format(
        pid
    )
    assert client.get("/records/{0}/files/".format(pid)).status_code == 200

    download = client.get("/records/{0}/files/hello.txt".format(pid))
    assert download.status_code == 200
    assert download.data == b"Hello, World"
    attachment = client.get("/records/{0}/files/hello.txt?download".format(pid))
    assert "attachment" in attachment.headers["Content-Disposition"]

    assert client.head("/records/{0}/files".format(pid)).status_code == 200
    assert client.head("/records/{0}/files/hello.txt".format(pid)).status_code == 200

    deleted = client.delete("/records/{0}/files/hello.txt".format(pid))
    assert deleted.status_code == 204
    assert client.get("/records/{0}/files/hello.txt".format(pid)).status_code == 404
    assert client.get("/records/{0}/files".format(pid)).json["contents"] == []


def test_rest_changes_reach_files_of_record(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    upload(client, pid, "b.txt", b"b")
    upload(client, pid, "a.txt", b"a")
    upload(client, pid, "dir/c.txt", b"c")
    assert stored_record(pid).files.keys == ["b.txt", "a.txt", "dir/c.txt"]
    record = client.get("/records/{0}".format(pid)).json
    assert [f["key"] for f in record["metadata"]["_files"]] == [
        "b.txt",
        "a.txt",
        "dir/c.txt",
    ]
    assert record["metadata"]["_files_summary"]["count"] == 3
    assert record["links"]["files"] == "http://localhost/records/{0}/files".format(pid)
    upload(client, pid, "b.txt", b"bigger b")
    client.delete("/records/{0}/files/a.txt".format(pid))
    entries = stored_record(pid)["_files"]
    assert [(e["key"], e["size"]) for e in entries] == [("b.txt", 8), ("dir/c.txt", 1)]


def test_versions(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    first = upload(client, pid, "a.txt", b"one").json["version_id"]
    second = upload(client, pid, "a.txt", b"two").json["version_id"]
    versions = client.get("/records/{0}/files?versions".format(pid)).json["contents"]
    assert {v["version_id"] for v in versions} == {first, second}
    old = client.get("/records/{0}/files/a.txt?versionId={1}".format(pid, first))
    assert old.data == b"one"
    removed = client.delete(
        "/records/{0}/files/a.txt?versionId={1}".format(pid, second)
    )
    assert removed.status_code == 204
    assert client.get("/records/{0}/files/a.txt".format(pid)).data == b"one"
    entry = stored_record(pid)["_files"][0]
    assert entry["version_id"] == first
    removed = client.delete("/records/{0}/files/a.txt?versionId={1}".format(pid, first))
    assert removed.status_code == 204
    assert "_files" not in stored_record(pid)


def test_delete_version_removes_unused_bytes(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    version = upload(client, pid, "a.txt", b"only").json["version_id"]
    assert len(storage_files(location.uri)) == 1
    client.delete("/records/{0}/files/a.txt?versionId={1}".format(pid, version))
    assert storage_files(location.uri) == set()


def test_multipart_upload(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", 4)
    pid = create_record(client)
    base = "/records/{0}/files/big.bin".format(pid)
    init = client.post(base + "?uploads&size=10&partSize=4")
    assert init.status_code == 200, init.data
    upload_id = init.json["id"]
    assert init.json["links"]["self"].startswith(
        "http://localhost/records/{0}/files/big.bin?uploadId=".format(pid)
    )
    for number, chunk in enumerate((b"0123", b"4567", b"89")):
        part = client.put(
            "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
            data=chunk,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert part.status_code == 200, part.data
    parts = client.get("{0}?uploadId={1}".format(base, upload_id)).json
    assert [p["part_number"] for p in parts["parts"]] == [0, 1, 2]
    uploads = client.get("/records/{0}/files?uploads".format(pid)).json
    assert [u["id"] for u in uploads] == [upload_id]
    done = client.post("{0}?uploadId={1}".format(base, upload_id))
    assert done.status_code == 200
    assert json.loads(done.get_data().strip())["completed"] is True
    assert client.get(base).data == b"0123456789"
    assert stored_record(pid).files.keys == ["big.bin"]


def test_multipart_abort(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", 4)
    pid = create_record(client)
    base = "/records/{0}/files/big.bin".format(pid)
    upload_id = client.post(base + "?uploads&size=10&partSize=4").json["id"]
    aborted = client.delete("{0}?uploadId={1}".format(base, upload_id))
    assert aborted.status_code == 204
    assert storage_files(location.uri) == set()
    assert stored_record(pid).files.keys == []


def test_unknown_pid_and_missing_file(client: IsolatedClient, db: SQLAlchemy) -> None:
    response = client.get("/records/999/files")
    assert response.status_code == 404
    assert response.json["status"] == 404
    pid = create_record(client)
    response = client.get("/records/{0}/files/nothing.txt".format(pid))
    assert response.status_code == 404
    assert response.is_json


def test_record_without_bucket(client: IsolatedClient, db: SQLAlchemy) -> None:
    from invenio_pidstore.providers.recordid import RecordIdProvider

    # Created without a bucket: metadata-only (InvenioRDM's files.enabled).
    record = Record.create({}, with_bucket=False)
    provider = RecordIdProvider.create(object_type="rec", object_uuid=record.id)
    db.session.commit()
    files = "/records/{0}/files".format(provider.pid.pid_value)
    response = client.get(files)
    assert response.status_code == 200
    assert response.json == {"enabled": False}
    refused = client.put(files + "/a.txt", data=b"a")
    assert refused.status_code == 400
    assert refused.json["message"] == "Files are not enabled for this record."
    # Stored before files.enabled existed (no flag) and without a bucket:
    # 404, as Invenio-Records-Files answered.
    model = Record.get_record(record.id).model
    model.json = {k: v for k, v in model.json.items() if k != "files"}
    db.session.commit()
    response = client.get(files)
    assert response.status_code == 404
    assert response.json["message"]


def test_route_not_configured_answers_404(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    assert client.get("/records/{0}/other-files".format(pid)).status_code == 404


def test_blueprint_refuses_unknown_endpoint() -> None:
    bare = Flask("bad")
    bare.config["RECORDS_REST_ENDPOINTS"] = {}
    bare.config["RECORDS_FILES_REST_ENDPOINTS"] = {
        "RECORDS_REST_ENDPOINTS": {"recid": "files"}
    }
    with pytest.raises(ValueError):
        create_blueprint_from_app(bare)


def test_blueprint_suffix_with_or_without_slash(app: Flask) -> None:
    app2 = Flask("suffixes")
    app2.config["RECORDS_REST_ENDPOINTS"] = {"recid": {"item_route": "/r/<pid_value>"}}
    app2.config["RECORDS_FILES_REST_ENDPOINTS"] = {
        "RECORDS_REST_ENDPOINTS": {"recid": "/files"}
    }
    blueprint = create_blueprint_from_app(app2)
    app2.register_blueprint(blueprint)
    rules = sorted(
        rule.rule for rule in app2.url_map.iter_rules() if rule.rule.startswith("/r/")
    )
    assert rules == [
        "/r/<pid_value>/actions/files-import",
        "/r/<pid_value>/files",
        "/r/<pid_value>/files-archive",
        "/r/<pid_value>/files/<records_files_key:key>",
        "/r/<pid_value>/files/<records_files_key:key>/commit",
        "/r/<pid_value>/files/<records_files_key:key>/container",
        "/r/<pid_value>/files/<records_files_key:key>/container/"
        "<records_files_key:path>",
        # Downloads and uploads of the content: two rules, one path.
        "/r/<pid_value>/files/<records_files_key:key>/content",
        "/r/<pid_value>/files/<records_files_key:key>/content",
        "/r/<pid_value>/files/<records_files_key:key>/content/<int:part>",
    ]


def test_python_and_rest_see_the_same_files(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    record = stored_record(pid)
    record.files["py.txt"] = stream(b"python")
    db.session.commit()
    listing = client.get("/records/{0}/files".format(pid)).json["contents"]
    assert [item["key"] for item in listing] == ["py.txt"]
    assert ObjectVersion.get(record.bucket, "py.txt") is not None


def test_upload_streams_with_no_transaction_open(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    body = TransactionProbe(b"x" * 100000)
    response = client.put(
        "/records/{0}/files/probe.bin".format(pid),
        input_stream=body,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": "100000",
        },
    )
    assert response.status_code == 200, response.data
    assert body.seen and not any(body.seen)
    assert stored_record(pid).files.keys == ["probe.bin"]
