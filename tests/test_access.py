"""One decision for a record's files, on the record's routes and Files-REST's own.

The demo application mounts Invenio-Files-REST's blueprint as an Invenio
application does (``invenio_files_rest.views.blueprint``) and closes its
``FILES_REST_PERMISSION_FACTORY``: a bucket linked to a record must follow
the record anyway, and be written through this library.
"""

import json
import uuid
from collections.abc import Mapping
from typing import Any, Optional

import pytest
from flask import Flask
from flask_login import LoginManager, UserMixin, login_user
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db as db_
from invenio_files_rest.models import Bucket, Location, ObjectVersion
from invenio_files_rest.proxies import current_permission_factory
from invenio_records_rest.utils import allow_all

from invenio_records_files_ext import InvenioRecordsFiles, signals
from invenio_records_files_ext.access import decisions as access
from invenio_records_files_ext.access.permissions import owner_permission_factory
from invenio_records_files_ext.ext import finalize_app
from invenio_records_files_ext.models import RecordsBuckets
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    assert_refused,
    bucket_of,
    create_record,
    put,
    receiving,
    stored_record,
    stream,
    upload,
)
from tests.users import as_user


def test_files_rest_route_follows_the_record(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(secured, {"title": "private", "owners": ["alice"]})
    upload(secured, pid, "a.txt", b"a", **as_user("alice"))
    bucket = "/files/" + bucket_of(pid)
    for url in (bucket, bucket + "/a.txt", bucket + "?versions"):
        assert_refused(secured.get(url), 401)
        assert_refused(secured.get(url, headers=as_user("bob")), 403)
        assert secured.get(url, headers=as_user("alice")).status_code == 200
    assert_refused(put(secured, bucket + "/b.txt", b"b"), 401)
    assert_refused(put(secured, bucket + "/b.txt", b"b", **as_user("bob")), 403)
    assert_refused(secured.delete(bucket + "/a.txt", headers=as_user("bob")), 403)
    assert_refused(
        secured.post(
            bucket + "/c.bin?uploads&size=8&partSize=4", headers=as_user("bob")
        ),
        403,
    )
    assert stored_record(pid).files.keys == ["a.txt"]
    created = put(secured, bucket + "/b.txt", b"b", **as_user("alice"))
    assert created.status_code == 200, created.data
    assert stored_record(pid).files.keys == ["a.txt", "b.txt"]
    assert (
        secured.delete(bucket + "/a.txt", headers=as_user("alice")).status_code == 204
    )
    assert stored_record(pid).files.keys == ["b.txt"]


def test_upper_case_bucket_id_is_the_same_bucket(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(secured, {"title": "private", "owners": ["alice"]})
    url = "/files/{0}/a.txt".format(bucket_of(pid).upper())
    assert_refused(put(secured, url, b"a", **as_user("bob")), 403)
    assert put(secured, url, b"a", **as_user("alice")).status_code == 200
    assert stored_record(pid).files.keys == ["a.txt"]


def test_files_rest_writes_take_the_library_path(
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = create_record(client)
    bucket = "/files/" + bucket_of(pid)
    with receiving(signals.file_added) as added:
        response = put(client, bucket + "/a.txt", b"a")
    assert response.status_code == 200, response.data
    assert len(added) == 1
    # Links lead to the record's routes.
    assert response.json["links"]["self"].endswith(
        "/records/{0}/files/a.txt".format(pid)
    )
    # Keys are checked as on the record's routes.
    assert_refused(put(client, bucket + "/bad%07key", b"x"), 400)
    # Hooks can veto the write.
    with receiving(signals.file_added, fail=True):
        with pytest.raises(RuntimeError):
            put(client, bucket + "/vetoed.txt", b"x")
    assert stored_record(pid).files.keys == ["a.txt"]
    # Multipart uploads complete in the request, through the record's files.
    base = bucket + "/big.bin"
    with monkeypatch.context() as patch:
        patch.setitem(
            client.application.config, "FILES_REST_MULTIPART_CHUNKSIZE_MIN", 4
        )
        init = client.post(base + "?uploads&size=6&partSize=4")
        assert init.status_code == 200, init.data
        upload_id = init.json["id"]
        for number, chunk in enumerate((b"0123", b"45")):
            part = put(
                client,
                "{0}?uploadId={1}&partNumber={2}".format(base, upload_id, number),
                chunk,
            )
            assert part.status_code == 200, part.data
        done = client.post("{0}?uploadId={1}".format(base, upload_id))
        assert done.status_code == 200, done.data
    assert stored_record(pid).files.keys == ["a.txt", "big.bin"]
    assert client.get(base).data == b"012345"


def test_files_rest_writes_respect_limits_and_locks(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_BUCKET_QUOTA_SIZE", 4)
        pid = create_record(client)
    bucket = "/files/" + bucket_of(pid)
    assert put(client, bucket + "/a.txt", b"abc").status_code == 200
    assert put(client, bucket + "/b.txt", b"abc").status_code == 400
    record = stored_record(pid)
    record.files.lock()
    db.session.commit()
    response = put(client, bucket + "/c.txt", b"c")
    assert_refused(response, 403)
    assert "locked" in response.json["message"].lower()
    assert_refused(client.delete(bucket + "/a.txt"), 403)
    assert client.get(bucket + "/a.txt").data == b"abc"
    assert stored_record(pid).files.keys == ["a.txt"]


def test_soft_deleted_record_answers_410_everywhere(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    bucket = "/files/" + bucket_of(pid)
    version = client.get(bucket + "/a.txt").headers.get("ETag")
    record = stored_record(pid)
    record.delete()
    db.session.commit()
    for response in (
        client.get(bucket),
        client.get(bucket + "/a.txt"),
        client.get(bucket + "?versions"),
        put(client, bucket + "/b.txt", b"b"),
        client.delete(bucket + "/a.txt"),
    ):
        assert_refused(response, 410)
    assert version  # the file was served before
    assert ObjectVersion.query.filter_by(key="b.txt").count() == 0


def test_old_versions_need_update_permission(
    app: Flask,
    secured: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = create_record(secured, {"public": True, "owners": ["alice"]})
    old = upload(secured, pid, "a.txt", b"one", **as_user("alice")).json["version_id"]
    head = upload(secured, pid, "a.txt", b"two", **as_user("alice")).json["version_id"]
    for base in ("/records/{0}/files".format(pid), "/files/" + bucket_of(pid)):
        versions = base + "?versions"
        old_file = "{0}/a.txt?versionId={1}".format(base, old)
        assert_refused(secured.get(versions), 401)
        assert_refused(secured.get(old_file), 401)
        assert_refused(secured.get(versions, headers=as_user("bob")), 403)
        assert_refused(secured.get(old_file, headers=as_user("bob")), 403)
        current = "{0}/a.txt?versionId={1}".format(base, head)
        assert secured.get(current, headers=as_user("bob")).data == b"two"
        assert secured.get(old_file, headers=as_user("alice")).data == b"one"
        assert secured.get(versions, headers=as_user("alice")).status_code == 200
        # Multipart uploads in progress are the writers' business too.
        assert_refused(secured.get(base + "?uploads", headers=as_user("bob")), 403)
    monkeypatch.setitem(app.config, "RECORDS_FILES_VERSIONS_PERMISSION", "read")
    for base in ("/records/{0}/files".format(pid), "/files/" + bucket_of(pid)):
        old_file = "{0}/a.txt?versionId={1}".format(base, old)
        assert secured.get(old_file, headers=as_user("bob")).data == b"one"
        listed = secured.get(base + "?versions")
        assert len(listed.json["contents"]) == 2


def test_versions_setting_is_checked(app: Flask) -> None:
    broken = Flask("broken_versions")
    broken.config["RECORDS_FILES_VERSIONS_PERMISSION"] = "anyone"
    with pytest.raises(ValueError, match="RECORDS_FILES_VERSIONS_PERMISSION"):
        InvenioRecordsFiles(broken)


def test_unlinked_buckets_keep_files_rest_factory(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = Bucket.create()
    db.session.commit()
    url = "/files/{0}".format(bucket.id)
    # The demo's FILES_REST_PERMISSION_FACTORY refuses, hiding the bucket
    # as Invenio-Files-REST does.
    assert client.get(url).status_code == 404
    assert put(client, url + "/a.txt", b"a").status_code == 404
    factory = app.extensions["invenio-files-rest"].permission_factory
    with monkeypatch.context() as patch:
        patch.setattr(factory, "_inner", allow_all)
        assert put(client, url + "/a.txt", b"a").status_code == 200
        assert client.get(url + "/a.txt").data == b"a"
    assert client.get(url + "/" + "missing").status_code == 404
    assert client.get("/files/{0}".format(uuid.uuid4())).status_code == 404
    assert client.get("/files/not-a-uuid").status_code == 404


def test_other_linked_bucket_is_read_only(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(secured, {"public": True, "owners": ["alice"]})
    record = stored_record(pid)
    extra = Bucket.create()
    ObjectVersion.create(extra, "old.txt", stream=stream(b"old"))
    RecordsBuckets.create(record=record, bucket=extra)
    db.session.commit()
    url = "/files/{0}".format(extra.id)
    assert secured.get(url + "/old.txt", headers=as_user("bob")).data == b"old"
    assert_refused(put(secured, url + "/new.txt", b"new"), 401)
    response = put(secured, url + "/new.txt", b"new", **as_user("alice"))
    assert_refused(response, 403)
    assert "read-only" in response.json["message"]


def test_records_decide_for_every_files_rest_caller(
    app: Flask, client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    """Previewers and other modules ask Files-REST's factory: records answer."""
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    with app.test_request_context():
        assert isinstance(current_permission_factory, access.FilesRestPermissionFactory)
        obj = ObjectVersion.get(stored_record(pid).bucket, "a.txt")
        permission = current_permission_factory(obj, "object-read")
        assert isinstance(permission, access.LinkedBucketPermission)
        assert permission.action == access.READ
        assert permission.can()
        assert current_permission_factory(obj, "object-delete").action == access.UPDATE
        assert current_permission_factory(obj, "a-new-action").action == access.UPDATE
    factory = app.extensions["invenio-files-rest"].permission_factory
    wrapped = app.view_functions["invenio_files_rest.object_api"]
    assert getattr(wrapped, "records_files_guard", False)  # a marker on the view
    finalize_app(app)
    assert app.extensions["invenio-files-rest"].permission_factory is factory
    assert app.view_functions["invenio_files_rest.object_api"] is wrapped


def test_links_use_site_api_url(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = create_record(client)
    upload(client, pid, "a.txt", b"a")
    monkeypatch.setitem(app.config, "SITE_API_URL", "https://data.example.org/api/")
    listing = client.get("/records/{0}/files".format(pid)).json
    record = client.get("/records/{0}".format(pid)).json
    from_files_rest = client.get("/files/" + bucket_of(pid)).json
    expected = "https://data.example.org/api/records/{0}/files".format(pid)
    assert listing["links"]["self"] == expected
    assert listing["contents"][0]["links"]["self"] == expected + "/a.txt"
    assert record["links"]["files"] == expected
    assert from_files_rest["links"]["self"] == expected


class _Account(UserMixin):  # type: ignore[misc]  # Flask-Login ships no types
    def __init__(self, id: int) -> None:
        self.id = id

    def get_id(self) -> str:
        return "account-{0}".format(self.id)


def test_owner_permission_factory() -> None:
    bare = Flask("owners")
    bare.secret_key = "test"
    LoginManager(bare).user_loader(lambda user_id: None)
    InvenioRecordsFiles(bare)
    with bare.test_request_context():
        record = {"owners": [7, "8"], "access": {"owned_by": [9]}}
        assert not owner_permission_factory(record=record).can()
        login_user(_Account(7))
        assert owner_permission_factory(record=record).can()
        assert not owner_permission_factory(record={"owners": []}).can()
        assert not owner_permission_factory(record={"owners": "7x"}).can()
        assert not owner_permission_factory(record={}).can()
        login_user(_Account(8))
        assert owner_permission_factory(record=record).can()
        bare.config["RECORDS_FILES_OWNERS_FIELD"] = "access.owned_by"
        assert not owner_permission_factory(record=record).can()
        login_user(_Account(9))
        assert owner_permission_factory(record=record).can()
        assert not owner_permission_factory(record={"access": None}).can()


def test_record_route_refusals_are_json(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(secured, {"title": "private", "owners": ["alice"]})
    response = secured.get("/records/{0}/files".format(pid))
    assert_refused(response, 401)
    assert json.loads(response.data)["message"].startswith("You must log in")
    db_.session.rollback()


def _reads_only(
    record: Optional[BucketRecord] = None,
    action: Optional[str] = None,
    endpoint: Optional[Mapping[str, Any]] = None,
) -> Any:
    from invenio_records_rest.utils import deny_all

    return allow_all() if action == "read" else deny_all()


def test_apps_without_login_manager_get_json_refusals(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No Flask-Login login manager: every request is anonymous, never a 500."""
    pid = create_record(client, {"title": "public"})
    upload(client, pid, "a.txt", b"a")
    bucket = "/files/" + bucket_of(pid)
    monkeypatch.setitem(
        app.config, "RECORDS_FILES_REST_PERMISSION_FACTORY", _reads_only
    )
    monkeypatch.delattr(app, "login_manager")
    assert client.get(bucket + "/a.txt").status_code == 200
    assert_refused(put(client, bucket + "/b.txt", b"b"), 401)
    assert_refused(client.delete(bucket + "/a.txt"), 401)
    assert_refused(put(client, "/records/{0}/files/b.txt".format(pid), b"b"), 401)
    assert stored_record(pid).files.keys == ["a.txt"]


def test_each_action_is_decided_once_per_request(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files-REST's own permission checks reuse the files view's decision."""
    pid = create_record(client, {"title": "decided once"})
    upload(client, pid, "a.txt", b"a")
    asked: list[str] = []

    def counted(record: Any = None, action: str = "", **kwargs: Any) -> Any:
        asked.append(action)
        return allow_all()

    monkeypatch.setitem(app.config, "RECORDS_FILES_REST_PERMISSION_FACTORY", counted)
    routes = {
        "listing": "/records/{0}/files".format(pid),
        "file": "/records/{0}/files/a.txt".format(pid),
        "bucket": "/files/" + bucket_of(pid),
        "bucket file": "/files/{0}/a.txt".format(bucket_of(pid)),
    }
    for name, url in routes.items():
        asked.clear()
        assert client.get(url).status_code == 200, name
        # A listing also asks whether the reader may see pending files.
        assert asked.count("read") == 1, (name, asked)
        assert asked.count("update") <= 1, (name, asked)
    asked.clear()
    assert put(client, routes["file"], b"b").status_code == 200
    assert asked == ["update"]
