"""Restricted and embargoed files: readable metadata, files behind a permission.

Permissions of the tests (``tests.users``): a record is readable by all
when ``public``, updatable by its ``owners``; the restricted files'
permission defaults to the update permission.
"""

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Optional

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from freezegun import freeze_time
from invenio_files_rest.models import Location

from invenio_records_files_ext import signals
from invenio_records_files_ext.access import embargo
from invenio_records_files_ext.access.restrictions import (
    embargo_of,
    files_restricted,
    set_files_access,
)
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.cli import records_files
from invenio_records_files_ext.errors import InvalidAccessError
from invenio_records_files_ext.tasks.embargo import lift_embargoes
from tests.helpers import (
    IsolatedClient,
    create_record,
    files_of,
    receiving,
    stored_record,
    stream,
    upload,
)
from tests.users import Allowed, as_user

RESTRICTED = {
    "title": "metadata open, files closed",
    "public": True,
    "owners": ["alice"],
    "access": {"record": "public", "files": "restricted"},
}


def curators_too(
    record: Any = None,
    action: Optional[str] = None,
    endpoint: Optional[Mapping[str, Any]] = None,
) -> Allowed:
    """Owners and the curator ``carol`` may read restricted files."""
    from flask_login import current_user

    name = current_user.get_id() if current_user.is_authenticated else None
    return Allowed(name == "carol" or name in record.get("owners", []))


def file_urls(client: IsolatedClient, pid: str) -> list[str]:
    bucket = str(stored_record(pid).bucket_id)
    return [
        "/records/{0}/files".format(pid),
        "/records/{0}/files/a.txt".format(pid),
        "/records/{0}/files?versions".format(pid),
        "/records/{0}/files-archive".format(pid),
        "/records/{0}/files/a.zip/container".format(pid),
        "/records/{0}/files/a.zip/container/inner.txt".format(pid),
        "/files/" + bucket,
        "/files/{0}/a.txt".format(bucket),
        "/files/{0}?versions".format(bucket),
    ]


def zip_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.txt", b"inner")
    return buffer.getvalue()


def make_restricted(
    client: IsolatedClient, data: Optional[dict[str, Any]] = None
) -> str:
    pid = create_record(client, data or RESTRICTED)
    assert upload(client, pid, "a.txt", b"a", **as_user("alice")).status_code == 200
    assert (
        upload(client, pid, "a.zip", zip_bytes(), **as_user("alice")).status_code == 200
    )
    return pid


def test_restricted_files_of_a_public_record(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = make_restricted(secured)
    # The record's metadata is public.
    assert secured.get("/records/{0}".format(pid)).status_code == 200
    for url in file_urls(secured, pid):
        anonymous = secured.get(url)
        assert anonymous.status_code == 401, (url, anonymous.data)
        if "versions" not in url:  # versions need the update permission anyway
            assert "restricted" in anonymous.json["message"]
        assert secured.get(url, headers=as_user("bob")).status_code == 403, url
        assert secured.get(url, headers=as_user("alice")).status_code == 200, url
    # Writers are not concerned by the restriction: it is about reading.
    assert upload(secured, pid, "b.txt", b"b", **as_user("bob")).status_code == 403
    assert upload(secured, pid, "b.txt", b"b", **as_user("alice")).status_code == 200


def test_public_files_need_only_the_record(
    secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = make_restricted(secured, dict(RESTRICTED, access={"files": "public"}))
    assert secured.get("/records/{0}/files/a.txt".format(pid)).data == b"a"
    assert secured.get("/records/{0}/files-archive".format(pid)).status_code == 200


def test_restricted_permission_factory_is_configurable(
    app: Flask,
    secured: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = make_restricted(secured)
    url = "/records/{0}/files/a.txt".format(pid)
    assert secured.get(url, headers=as_user("carol")).status_code == 403
    with monkeypatch.context() as patch:
        patch.setitem(
            app.config, "RECORDS_FILES_RESTRICTED_PERMISSION_FACTORY", curators_too
        )
        assert secured.get(url, headers=as_user("carol")).status_code == 200
        assert secured.get(url, headers=as_user("bob")).status_code == 403


def test_unknown_level_counts_as_restricted(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    assert not files_restricted({})
    assert not files_restricted({"access": {"files": "public"}})
    assert files_restricted({"access": {"files": "Restricted"}})
    assert files_restricted({"access": {"embargo": {"active": True}}})
    with pytest.raises(InvalidAccessError):
        set_files_access({}, "secret")
    with pytest.raises(InvalidAccessError):
        embargo.set_embargo(Record.create({}), "next week")


def test_restrict_files_in_python(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "t"})
    embargo.restrict_files(record)
    db.session.commit()
    assert Record.get_record(record.id)["access"]["files"] == "restricted"
    embargo.restrict_files(record, restricted=False)
    assert record["access"]["files"] == "public"


def test_embargo_lifted_by_the_command(
    app: Flask, secured: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(secured, dict(RESTRICTED, access={"files": "public"}))
    upload(secured, pid, "a.txt", b"a", **as_user("alice"))
    record = stored_record(pid)
    embargo.set_embargo(record, "2030-01-01", reason="Patent pending")
    db.session.commit()
    revision = record.revision_id
    url = "/records/{0}/files/a.txt".format(pid)
    assert secured.get(url).status_code == 401
    found = embargo_of(stored_record(pid))
    assert found is not None
    assert found.until == date(2030, 1, 1)
    runner = app.test_cli_runner()
    with freeze_time("2029-12-31 23:59:00"):
        result = runner.invoke(records_files, ["lift-embargoes"])
    assert result.exit_code == 0, result.output
    assert "0 embargoes lifted" in result.output
    assert secured.get(url).status_code == 401
    with receiving(signals.embargo_lifted) as lifted:
        with freeze_time("2030-01-01 00:00:01"):
            result = runner.invoke(records_files, ["lift-embargoes"])
    assert result.exit_code == 0, result.output
    assert "1 embargo lifted" in result.output
    assert str(record.id) in result.output
    assert len(lifted) == 1 and lifted[0]["record"].id == record.id
    assert lifted[0]["embargo"].reason == "Patent pending"
    stored = stored_record(pid)
    assert stored["access"]["files"] == "public"
    assert stored["access"]["embargo"] == {
        "active": False,
        "until": "2030-01-01",
        "reason": "Patent pending",
    }
    assert stored.revision_id == revision + 1
    assert secured.get(url).data == b"a"
    # The record as served shows the change.
    served = secured.get("/records/{0}".format(pid)).json["metadata"]
    assert served["access"]["embargo"]["active"] is False


def test_a_hook_can_keep_the_embargo(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "t"})
    embargo.set_embargo(record, date(2020, 1, 1))
    db.session.commit()
    runner = app.test_cli_runner()
    with receiving(signals.embargo_lifted, fail=True):
        result = runner.invoke(records_files, ["lift-embargoes"])
    assert result.exit_code == 1
    assert "hook refused" in result.output
    assert Record.get_record(record.id)["access"]["embargo"]["active"] is True
    assert not embargo.lift_embargo(Record.get_record(record.id), date(2019, 1, 1))
    assert embargo.lift_embargo(Record.get_record(record.id), date(2019, 1, 1), True)


def test_celery_task_lifts_due_embargoes(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    due = Record.create({"title": "due"})
    later = Record.create({"title": "later"})
    embargo.set_embargo(due, "2024-05-01")
    embargo.set_embargo(later, "2024-05-03")
    deleted = Record.create({"title": "deleted"})
    embargo.set_embargo(deleted, "2024-05-01")
    deleted.delete()
    db.session.commit()
    with freeze_time("2024-05-02"):
        outcome = lift_embargoes.apply().get()
    assert outcome == {"lifted": [str(due.id)], "failed": []}
    assert Record.get_record(due.id)["access"]["files"] == "public"
    assert Record.get_record(later.id)["access"]["embargo"]["active"] is True
    outcome = lift_embargoes.apply(kwargs={"today": "2024-05-03"}).get()
    assert outcome == {"lifted": [str(later.id)], "failed": []}


def test_lift_pages_through_many_records(
    app: Flask, db: SQLAlchemy, location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_EMBARGO_BATCH_SIZE", 2)
        ids = []
        for number in range(5):
            record = Record.create({"n": number})
            embargo.set_embargo(record, "2001-01-01")
            ids.append(record.id)
        db.session.commit()
        runner = app.test_cli_runner()
        result = runner.invoke(
            records_files, ["lift-embargoes", "--today", "2001-01-01"]
        )
        assert result.exit_code == 0, result.output
        assert "5 embargoes lifted" in result.output
        bad = runner.invoke(records_files, ["lift-embargoes", "--today", "soon"])
        assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output


def test_record_json_access_is_plain_json(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"access": {"files": "restricted"}})
    files_of(record)["a.txt"] = stream(b"a")
    db.session.commit()
    assert json.loads(json.dumps(record.dumps()))["access"] == {"files": "restricted"}


def test_versions_open_to_readers_stay_restricted(
    app: Flask,
    secured: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = make_restricted(secured)
    upload(secured, pid, "a.txt", b"a2", **as_user("alice"))
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_VERSIONS_PERMISSION", "read")
        url = "/records/{0}/files?versions".format(pid)
        refused = secured.get(url, headers=as_user("bob"))
        assert refused.status_code == 403
        assert "restricted" in refused.json["message"]
        assert secured.get(url, headers=as_user("alice")).status_code == 200
        record = stored_record(pid)
        embargo.restrict_files(record, restricted=False)
        db.session.commit()
        assert secured.get(url, headers=as_user("bob")).status_code == 200
