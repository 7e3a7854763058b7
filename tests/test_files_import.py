"""New versions: files copied by default, or imported later on request."""

import json
from io import BytesIO
from typing import Optional

import pytest
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import FileInstance, Location

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.errors import (
    FilesAlreadyImportedError,
    FilesImportError,
    NotANewVersionError,
    NotThePreviousVersionError,
)
from invenio_records_files_ext.records import imports as files_import
from tests.helpers import (
    JSON,
    BucketRecord,
    IsolatedClient,
    JSONResponse,
    create_record,
    files_of,
    stored_record,
    upload,
)


@pytest.fixture()
def published(db: SQLAlchemy, location: Location) -> BucketRecord:
    """A record with three files, per-file metadata, a default preview, locked."""
    record = Record.create({"title": "v1"})
    files_of(record).update(
        [("b.csv", BytesIO(b"b")), ("a.txt", BytesIO(b"a")), ("c.pdf", BytesIO(b"c"))]
    )
    files_of(record)["a.txt"]["description"] = "the README"
    files_of(record).default_preview = "c.pdf"
    files_of(record).lock()
    db.session.commit()
    return record


def _same_files(new: BucketRecord, old: BucketRecord) -> None:
    assert new.files.keys == old.files.keys == ["b.csv", "a.txt", "c.pdf"]
    assert [f.file_id for f in new.files] == [f.file_id for f in old.files]
    assert new.files["a.txt"]["description"] == "the README"
    assert new.files.default_preview == "c.pdf"


def test_a_new_version_gets_the_files_by_default(
    db: SQLAlchemy, published: BucketRecord
) -> None:
    instances = FileInstance.query.count()
    new = files_import.new_version(published, {"title": "v2"})
    db.session.commit()
    _same_files(new, published)
    assert FileInstance.query.count() == instances
    assert files_import.previous_version_id(new) == published.id
    assert not new.files.locked


def test_a_new_version_without_files_imports_them_on_request(
    db: SQLAlchemy, published: BucketRecord
) -> None:
    new = files_import.new_version(published, {"title": "v2"}, import_files=False)
    db.session.commit()
    assert new.files.keys == []
    assert files_import.import_files(new) == ["b.csv", "a.txt", "c.pdf"]
    db.session.commit()
    _same_files(Record.get_record(new.id), published)
    # Given explicitly, the previous version is checked, then used.
    again = files_import.new_version(published, {"title": "v3"}, import_files=False)
    assert files_import.import_files(again, published) == ["b.csv", "a.txt", "c.pdf"]


def test_refusals(db: SQLAlchemy, published: BucketRecord) -> None:
    other = Record.create({"title": "unrelated"})
    new = files_import.new_version(published, {"title": "v2"}, import_files=False)
    with pytest.raises(NotANewVersionError):
        files_import.import_files(other)
    with pytest.raises(NotThePreviousVersionError):
        files_import.import_files(new, other)
    new.files["own.txt"] = BytesIO(b"own")
    with pytest.raises(FilesAlreadyImportedError):
        files_import.import_files(new)
    del new.files["own.txt"]
    new.files.transfers.init([{"key": "pending.bin"}])
    with pytest.raises(FilesAlreadyImportedError):
        files_import.import_files(new)
    assert issubclass(FilesAlreadyImportedError, (FilesImportError, ValueError))
    assert new.files.keys == []


@pytest.fixture()
def versions(client: IsolatedClient, db: SQLAlchemy) -> tuple[str, str]:
    """PIDs of a previous version (two files over REST) and of a new one without files."""
    old = create_record(client)
    for key in ("z.txt", "a.txt"):
        assert upload(client, old, key, key.encode()).status_code == 200
    record = stored_record(old)
    record.files["a.txt"]["note"] = "kept"
    db.session.commit()
    new = create_record(client)
    files_import.mark_new_version(stored_record(new), record)
    db.session.commit()
    return old, new


def _import(
    client: IsolatedClient,
    pid: str,
    route: str = "/records/{0}",
    body: Optional[dict[str, str]] = None,
) -> JSONResponse:
    return client.post(
        (route + "/actions/files-import").format(pid),
        data=json.dumps(body) if body is not None else None,
        headers=JSON if body is not None else {},
    )


def test_files_import_over_rest(
    client: IsolatedClient, db: SQLAlchemy, versions: tuple[str, str]
) -> None:
    old, new = versions
    # RDM's path, on the endpoint mounted at /records/<pid>/draft.
    response = _import(client, new, "/records/{0}/draft", {"previous": old})
    assert response.status_code == 201, response.json
    entries = response.json["entries"]
    assert [entry["key"] for entry in entries] == ["z.txt", "a.txt"]
    assert entries[1]["metadata"] == {"note": "kept"}
    assert entries[0]["links"]["self"].endswith(
        "/records/{0}/draft/files/z.txt".format(new)
    )
    imported, previous = stored_record(new), stored_record(old)
    assert [f.file_id for f in imported.files] == [f.file_id for f in previous.files]
    assert client.get("/records/{0}/files/z.txt".format(new)).data == b"z.txt"

    # Again: the new version has files now.
    again = _import(client, new)
    assert again.status_code == 400
    assert again.json["status"] == 400 and "already has files" in again.json["message"]


def test_files_import_refusals_over_rest(
    client: IsolatedClient, db: SQLAlchemy, versions: tuple[str, str]
) -> None:
    old, new = versions
    not_new = _import(client, old)
    assert not_new.status_code == 400
    assert "not a new version" in not_new.json["message"]
    other = create_record(client)
    wrong = _import(client, new, body={"previous": other})
    assert wrong.status_code == 400
    assert "not the one" in wrong.json["message"]
    unknown = _import(client, new, body={"previous": "999999"})
    assert unknown.status_code == 400
    assert stored_record(new).files.keys == []
    assert (
        client.get("/records/{0}/actions/files-import".format(new)).status_code == 405
    )
