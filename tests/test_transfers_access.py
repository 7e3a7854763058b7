"""Pending files on every route: permissions, locks, hooks, Files-REST's routes."""

import io
import json
import zipfile

from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location

from invenio_records_files_ext import signals
from tests.helpers import (
    JSON,
    IsolatedClient,
    assert_refused,
    bucket_of,
    commit,
    create_record,
    files_url,
    init,
    put,
    put_content,
    receiving,
    stored_record,
    upload,
)
from tests.users import as_user


def test_permissions_decide_every_step(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(secured, {"title": "private", "owners": ["alice"]})
    body = json.dumps([{"key": "a.txt"}])
    url = files_url(pid)
    assert_refused(secured.post(url, data=body, headers=JSON), 401)
    assert_refused(
        secured.post(url, data=body, headers={**JSON, **as_user("bob")}), 403
    )
    created = secured.post(url, data=body, headers={**JSON, **as_user("alice")})
    assert created.status_code == 201, created.json
    content = files_url(pid, "a.txt", "content")
    assert_refused(put(secured, content, b"abc", **as_user("bob")), 403)
    assert put(secured, content, b"abc", **as_user("alice")).status_code == 200
    assert_refused(
        secured.post(files_url(pid, "a.txt", "commit"), headers=as_user("bob")), 403
    )
    assert_refused(secured.delete(files_url(pid, "a.txt"), headers=as_user("bob")), 403)
    done = secured.post(files_url(pid, "a.txt", "commit"), headers=as_user("alice"))
    assert done.status_code == 200, done.json
    # Reading the content is a read.
    assert_refused(secured.get(content), 401)
    assert_refused(secured.get(content, headers=as_user("bob")), 403)
    assert secured.get(content, headers=as_user("alice")).data == b"abc"


def test_pending_files_stay_hidden_on_files_rest_routes(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "p.txt"}])
    put_content(client, pid, "p.txt", b"secret")
    bucket = "/files/" + bucket_of(pid)
    assert client.get(bucket + "/p.txt").status_code == 404
    listing = client.get(bucket).json
    assert listing["contents"] == []
    assert [e["status"] for e in listing["entries"]] == ["pending"]
    # Writing over it there is refused as on the record's routes.
    assert_refused(put(client, bucket + "/p.txt", b"x"), 409)
    assert client.get(bucket + "/p.txt?versions").status_code in (404, 200)
    assert stored_record(pid).files.keys == []


def test_hooks_fire_once_on_completion(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    with receiving(signals.file_added) as added:
        init(client, pid, [{"key": "h.txt"}])
        put_content(client, pid, "h.txt", b"hook")
        assert added == []
        assert commit(client, pid, "h.txt").status_code == 200
        assert len(added) == 1
        commit(client, pid, "h.txt")
        assert len(added) == 1


def test_hook_veto_keeps_the_file_pending(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "v.txt"}])
    put_content(client, pid, "v.txt", b"veto")
    with receiving(signals.file_added, fail=True):
        try:
            commit(client, pid, "v.txt")
        except RuntimeError:
            pass
    record = stored_record(pid)
    assert record.files.keys == []
    assert record.files.transfers.get("v.txt").state == "received"
    assert commit(client, pid, "v.txt").json["status"] == "completed"


def test_locked_files_refuse_every_step(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    init(client, pid, [{"key": "l.txt"}])
    put_content(client, pid, "l.txt", b"lock")
    record = stored_record(pid)
    record.files.lock()
    db.session.commit()
    for response in (
        init(client, pid, [{"key": "other"}]),
        put_content(client, pid, "l.txt", b"lock"),
        commit(client, pid, "l.txt"),
        client.delete(files_url(pid, "l.txt")),
    ):
        assert response.status_code == 403, response.json
    record = stored_record(pid)
    record.files.unlock()
    db.session.commit()
    assert commit(client, pid, "l.txt").status_code == 200


def test_pending_files_stay_out_of_the_archive(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    upload(client, pid, "done.txt", b"done")
    assert init(client, pid, [{"key": "later.txt"}]).status_code == 201
    archive = client.get("/records/{0}/files-archive".format(pid))
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert names == ["done.txt"]


def test_restricted_files_restrict_the_three_step_routes(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(
        secured,
        {"public": True, "owners": ["alice"], "access": {"files": "restricted"}},
    )
    alice, bob = as_user("alice"), as_user("bob")
    body = json.dumps([{"key": "a.txt"}])
    assert (
        secured.post(files_url(pid), data=body, headers={**JSON, **alice}).status_code
        == 201
    )
    assert put_content(secured, pid, "a.txt", b"abc", **alice).status_code == 200
    assert commit(secured, pid, "a.txt").status_code in (401, 403)
    assert (
        secured.post(files_url(pid, "a.txt", "commit"), headers=alice).status_code
        == 200
    )
    content = files_url(pid, "a.txt", "content")
    assert_refused(secured.get(content, headers=bob), 403)
    assert_refused(secured.get(content), 401)
    assert secured.get(content, headers=alice).data == b"abc"
