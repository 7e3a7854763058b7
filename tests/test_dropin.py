"""Drop-in compatibility with invenio-records-files, found by running its own
tests (and Invenio-Previewer) against this package."""

import hashlib
import json
import os
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db as db_
from invenio_files_rest.models import Bucket, Location
from invenio_records.models import RecordMetadata

from invenio_records_files_ext import signals
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.db import ledger
from invenio_records_files_ext.links import default_bucket_link_factory
from invenio_records_files_ext.models import RecordsBuckets
from tests.app import app_config, create_test_app
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    TransactionProbe,
    create_record,
    receiving,
    storage_files,
    stored_record,
    upload,
)

FILE_FIELDS = {"bucket", "checksum", "file_id", "key", "mimetype", "size", "version_id"}


def test_json_schema_under_the_original_path(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    from invenio_jsonschemas import InvenioJSONSchemas

    schemas = Flask("schemas")
    InvenioJSONSchemas(schemas)
    state = schemas.extensions["invenio-jsonschemas"]
    assert "records-files/records-files-v1.0.0.json" in state.list_schemas()
    schema = state.get_schema("records-files/records-files-v1.0.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    # One entry of ``_files``, per-file metadata included.
    record.files["a.txt"] = BytesIO(b"a")
    record.files["a.txt"]["description"] = "free metadata"
    entry = json.loads(json.dumps(record["_files"][0]))
    assert FILE_FIELDS <= set(entry)
    jsonschema.validate(entry, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"key": 1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"size": "big"}, schema)


def test_bucket_link_factory_without_pid(app: Flask) -> None:
    with app.test_request_context():
        assert default_bucket_link_factory(None) is None


def test_records_buckets_create_with_unflushed_record_model(
    db: SQLAlchemy, location: Location
) -> None:
    bucket = Bucket.create()
    db.session.commit()
    with db.session.begin_nested():
        model = RecordMetadata()
        assert model.id is None
        link = RecordsBuckets.create(model, bucket)
        db.session.add(model)
    db.session.commit()
    assert link.record_id == model.id is not None
    assert RecordsBuckets.query.filter_by(record_id=model.id).one().bucket_id == (
        bucket.id
    )
    assert Record.get_record(model.id).bucket.id == bucket.id


def _check_previous(
    previous: object, key: str, data: bytes, metadata: dict[str, Any]
) -> None:
    assert isinstance(previous, dict)
    assert FILE_FIELDS <= set(previous)
    assert previous["key"] == key
    assert previous["size"] == len(data)
    assert previous["checksum"] == "md5:" + hashlib.md5(data).hexdigest()
    for name, value in metadata.items():
        assert previous[name] == value


def test_previous_of_replaced_and_deleted_files_is_the_entry(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    """As ``signals.py`` documents: the previous entry, a dict, everywhere."""
    record.files["a.txt"] = BytesIO(b"one")
    record.files["a.txt"]["note"] = "first"
    old_version = record.files["a.txt"]["version_id"]
    with receiving(signals.file_replaced) as replaced:
        record.files["a.txt"] = BytesIO(b"two!")
    _check_previous(replaced[0]["previous"], "a.txt", b"one", {"note": "first"})
    assert replaced[0]["previous"]["version_id"] == str(old_version)

    with receiving(signals.file_replaced) as replaced:
        record.files.update({"a.txt": BytesIO(b"three"), "b.txt": BytesIO(b"b")})
    assert len(replaced) == 1
    _check_previous(replaced[0]["previous"], "a.txt", b"two!", {"note": "first"})

    with receiving(signals.file_deleted) as deleted:
        del record.files["a.txt"]
    assert deleted[0]["key"] == "a.txt"
    _check_previous(deleted[0]["previous"], "a.txt", b"three", {"note": "first"})


def test_signal_documentation_says_previous_is_an_entry() -> None:
    import inspect

    source = " ".join(inspect.getsource(signals).split())
    assert "ObjectVersion`)" not in source
    assert source.count("the previous entry") >= 2


@pytest.fixture()
def app_with_earlier_work(
    database_uri: str,
    tmp_path: Path,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Flask, list[bool]]]:
    """A test application, where a ``before_request`` hook adds a row to the session.

    It stands for any code that runs before the upload in the same request
    (an upload factory, an audit log, a permission with side effects).
    """
    instance = str(tmp_path / "instance")
    app = create_test_app(app_config(database_uri, instance), instance_path=instance)
    app.test_client_class = IsolatedClient

    @app.before_request
    def earlier_work() -> None:
        from flask import request

        name = request.headers.get("X-Earlier-Work")
        if name:
            db_.session.add(Location(name=name, uri=str(tmp_path / name)))

    seen: list[bool] = []
    original = ledger.release_if_read_only

    def spying(*args: Any, **kwargs: Any) -> bool:
        released = original(*args, **kwargs)
        seen.append(released)
        return released

    transactions_release = "invenio_records_files_ext.rest.objects.release_if_read_only"
    monkeypatch.setattr(transactions_release, spying)
    with app.app_context():
        yield app, seen


def test_upload_keeps_earlier_work_of_the_request(
    app_with_earlier_work: tuple[Flask, list[bool]], location: Location
) -> None:
    app, released = app_with_earlier_work
    client = cast(IsolatedClient, app.test_client())  # its test_client_class
    pid = create_record(client)

    plain = upload(client, pid, "plain.txt", b"plain")
    assert plain.status_code == 200
    assert released == [True]  # nothing to keep: streamed with no transaction

    body = TransactionProbe(b"y" * 50000)
    kept = client.put(
        "/records/{0}/files/kept.txt".format(pid),
        input_stream=body,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Length": "50000",
            "X-Earlier-Work": "audit-1",
        },
    )
    assert kept.status_code == 200, kept.data
    assert released == [True, False]
    # The transaction holding the earlier work stayed open, and committed
    # with the file.
    assert all(body.seen)
    assert Location.query.filter_by(name="audit-1").count() == 1
    assert stored_record(pid).files.keys == ["plain.txt", "kept.txt"]


def test_failed_upload_rolls_back_earlier_work_with_it(
    app_with_earlier_work: tuple[Flask, list[bool]], location: Location
) -> None:
    app, released = app_with_earlier_work
    client = cast(IsolatedClient, app.test_client())  # its test_client_class
    pid = create_record(client)
    before = storage_files(location.uri)
    failed = upload(
        client,
        pid,
        "bad.txt",
        b"body",
        **{"Content-MD5": hashlib.md5(b"other").hexdigest(), "X-Earlier-Work": "x2"},
    )
    assert failed.status_code == 400
    assert released == [False]
    assert Location.query.filter_by(name="x2").count() == 0
    assert stored_record(pid).files.keys == []
    assert storage_files(location.uri) == before


def test_has_written_sees_flushed_and_raw_writes(
    db: SQLAlchemy, location: Location
) -> None:
    assert not ledger.has_written()
    Bucket.create()
    assert ledger.has_written()  # pending, or flushed by create()
    db.session.flush()
    assert ledger.has_written()
    db.session.rollback()
    assert not ledger.has_written()
    db.session.execute(
        Location.__table__.update().where(Location.name == "default").values(uri="x")
    )
    assert ledger.has_written()
    db.session.rollback()
    assert ledger.release_if_read_only() is True
    Bucket.create()
    assert ledger.release_if_read_only() is False
    db.session.rollback()


def test_original_module_tests_pass_in_scratch_run_noted_in_upgrade_docs() -> None:
    """The deliberate differences are listed where users look for them."""
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs")
    with open(os.path.join(path, "upgrade.rst")) as fp:
        text = fp.read()
    assert "Deliberate differences" in text
    with open(os.path.join(path, "index.rst")) as fp:
        assert "upgrade" in fp.read()
