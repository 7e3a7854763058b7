"""Utilities, link factories, JSON schema, extension and packaging."""

import json
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Bucket, Location, ObjectVersion
from invenio_pidstore.models import PersistentIdentifier
from invenio_pidstore.providers.recordid import RecordIdProvider
from werkzeug.exceptions import HTTPException

from invenio_records_files_ext import InvenioRecordsFiles
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.links import (
    default_bucket_link_factory,
    default_record_files_links_factory,
)
from invenio_records_files_ext.utils import (
    file_download_ui,
    record_file_factory,
    sorted_files_from_bucket,
)
from tests.app import app_config, create_test_app
from tests.helpers import BucketRecord, stream


def test_sorted_files_from_bucket(db: SQLAlchemy, location: Location) -> None:
    bucket = Bucket.create()
    for key in ("c", "a", "b", "d"):
        ObjectVersion.create(bucket, key, stream=stream(key.encode()))
    db.session.commit()
    assert [o.key for o in sorted_files_from_bucket(bucket)] == ["a", "b", "c", "d"]
    assert [o.key for o in sorted_files_from_bucket(bucket, ["d", "b"])] == [
        "d",
        "b",
        "a",
        "c",
    ]


def test_record_file_factory(record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["hello.txt"] = stream()
    assert record_file_factory(None, record, "hello.txt").key == "hello.txt"
    assert record_file_factory(None, record, "invalid") is None
    assert record_file_factory(None, Record({}), "hello.txt") is None
    assert record_file_factory(None, {"a": 1}, "hello.txt") is None
    no_bucket = Record.create({}, with_bucket=False)
    assert record_file_factory(None, no_bucket, "hello.txt") is None


def _minted(record: BucketRecord) -> PersistentIdentifier:
    return RecordIdProvider.create(object_type="rec", object_uuid=record.id).pid


def test_file_download_ui(app: Flask, record: BucketRecord, db: SQLAlchemy) -> None:
    record.files["hello.txt"] = stream(b"Hello, World")
    pid = _minted(record)
    db.session.commit()
    with app.test_request_context("/records/1/files/hello.txt"):
        response = file_download_ui(pid, record, filename="hello.txt")
        response.direct_passthrough = False
        assert response.status_code == 200
        assert response.get_data() == b"Hello, World"
        assert "attachment" not in response.headers.get("Content-Disposition", "")
        response.close()
    with app.test_request_context("/records/1/files/hello.txt?download"):
        response = file_download_ui(pid, record, filename="hello.txt")
        assert "attachment" in response.headers["Content-Disposition"]
        response.close()
    with app.test_request_context("/records/1/files/missing.txt"):
        with pytest.raises(Exception) as error:
            file_download_ui(pid, record, filename="missing.txt")
        assert isinstance(error.value, HTTPException)
        assert error.value.code == 404


def test_link_factories(app: Flask, record: BucketRecord, db: SQLAlchemy) -> None:
    pid = _minted(record)
    db.session.commit()
    with app.test_request_context():
        assert default_bucket_link_factory(
            pid
        ) == "http://localhost/records/{0}/files".format(pid.pid_value)
        links = default_record_files_links_factory(pid, record=record)
        assert links == {
            "self": "http://localhost/records/{0}".format(pid.pid_value),
            "files": "http://localhost/records/{0}/files".format(pid.pid_value),
        }


def test_bucket_link_without_files_routes(
    record: BucketRecord, db: SQLAlchemy, database_uri: str, tmp_path: Path
) -> None:
    instance = str(tmp_path / "nofiles")
    config = dict(app_config(database_uri, instance), RECORDS_FILES_REST_ENDPOINTS={})
    other = create_test_app(config, instance_path=instance)
    pid = _minted(record)
    db.session.commit()
    # Invenio-Files-REST's route, where the record's permissions apply too.
    expected = "http://localhost/files/{0}".format(record.bucket_id)
    with other.test_request_context():
        assert default_bucket_link_factory(pid) == expected
        assert default_record_files_links_factory(pid)["files"] == expected


def test_json_schema_is_registered_and_valid(
    app: Flask, record: BucketRecord, db: SQLAlchemy
) -> None:
    from invenio_jsonschemas import InvenioJSONSchemas

    schemas = Flask("schemas")
    InvenioJSONSchemas(schemas)
    state = schemas.extensions["invenio-jsonschemas"]
    assert "records_files/records-files-v1.0.0.json" in state.list_schemas()
    schema = state.get_schema("records_files/records-files-v1.0.0.json")
    jsonschema.Draft7Validator.check_schema(schema)
    record.files["a.txt"] = stream()
    record.files["a.txt"]["note"] = "free metadata"
    record.files.default_preview = "a.txt"
    jsonschema.validate(json.loads(json.dumps(dict(record))), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"_files": [{"key": 1}]}, schema)


def test_extension_sets_defaults() -> None:
    bare = Flask("ext")
    bare.config["RECORDS_FILES_KEY_MAX_LENGTH"] = 10
    InvenioRecordsFiles(bare)
    assert bare.config["RECORDS_FILES_REST_ENDPOINTS"] == {}
    assert bare.config["RECORDS_FILES_KEY_MAX_LENGTH"] == 10
    assert bare.config["RECORDS_FILES_DUMP_SUMMARY"] is True
    assert "invenio-records-files" in bare.extensions


@pytest.mark.parametrize(
    "group",
    [
        "invenio_base.apps",
        "invenio_base.api_apps",
        "invenio_base.api_blueprints",
        "invenio_db.models",
        "invenio_db.alembic",
        "invenio_jsonschemas.schemas",
        "flask.commands",
    ],
)
def test_entry_points(group: str) -> None:
    found = [
        ep
        for ep in entry_points(group=group)
        if ep.value.startswith("invenio_records_files_ext")
    ]
    assert found, group
    for entry_point in found:
        if group == "invenio_db.alembic":
            # Invenio-DB only turns it into a folder of recipes.
            from importlib.resources import files

            assert (files(entry_point.module) / entry_point.attr).is_dir()
        else:
            assert entry_point.load() is not None
