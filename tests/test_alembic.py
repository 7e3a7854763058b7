"""Alembic recipes: this package's branch and the legacy revisions."""

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from invenio_db import InvenioDB
from invenio_db import db as db_
from invenio_files_rest import InvenioFilesREST
from invenio_records import InvenioRecords

from invenio_records_files_ext import InvenioRecordsFiles


@pytest.fixture()
def alembic_database(database_uri):
    """A fresh, empty PostgreSQL database (Invenio's recipes need ALTER)."""
    if not database_uri.startswith("postgresql"):
        pytest.skip("Invenio's Alembic recipes need PostgreSQL")
    url = sa.engine.make_url(database_uri)
    name = "rfx_alembic_{0}".format(uuid.uuid4().hex[:8])
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE {0}".format(name)))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(
            sa.text("DROP DATABASE IF EXISTS {0} WITH (FORCE)".format(name))
        )
    admin.dispose()


@pytest.fixture()
def alembic_app(alembic_database):
    app = Flask("alembic")
    app.config.update(SQLALCHEMY_DATABASE_URI=alembic_database)
    InvenioDB(app)
    InvenioRecords(app)
    InvenioFilesREST(app)
    InvenioRecordsFiles(app)
    with app.app_context():
        yield app
        db_.session.remove()
        db_.engine.dispose()


RECORD_ID = "3fa4a9a4-5c62-4d52-9d5e-8a0c2f0e6f11"
BUCKET_ID = "0b9f5e26-7d61-4a3c-9f8e-2c1d0a7b4e22"


def _tables(app):
    return set(sa.inspect(db_.engine).get_table_names())


def _indexes(app):
    return {ix["name"] for ix in sa.inspect(db_.engine).get_indexes("records_buckets")}


def test_branch_creates_records_buckets(alembic_app):
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files_ext@head")
    assert "records_buckets" in _tables(alembic_app)
    assert "ix_records_buckets_bucket_id" in _indexes(alembic_app)
    columns = {c["name"] for c in sa.inspect(db_.engine).get_columns("records_buckets")}
    assert columns == {"record_id", "bucket_id"}
    alembic.downgrade("c3f1e2a9b7d4")
    assert "records_buckets" not in _tables(alembic_app)


def test_database_migrated_by_invenio_records_files(alembic_app):
    """The legacy revisions resolve and the existing table is kept."""
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files@head")
    # What invenio-records-files' own recipes had created:
    with db_.engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE records_buckets (record_id UUID NOT NULL "
                "REFERENCES records_metadata (id), bucket_id UUID NOT NULL "
                "REFERENCES files_bucket (id), PRIMARY KEY (record_id, bucket_id))"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO records_metadata (id, json, version_id, created, updated)"
                " VALUES (:id, '{}', 1, now(), now())"
            ),
            {"id": RECORD_ID},
        )
        connection.execute(
            sa.text(
                'INSERT INTO files_location (id, name, uri, "default", created, updated)'
                " VALUES (1, 'l', '/tmp', true, now(), now())"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO files_bucket (id, default_location, default_storage_class,"
                " size, locked, deleted, created, updated)"
                " VALUES (:id, 1, 'S', 0, false, false, now(), now())"
            ),
            {"id": BUCKET_ID},
        )
        connection.execute(
            sa.text("INSERT INTO records_buckets VALUES (:r, :b)"),
            {"r": RECORD_ID, "b": BUCKET_ID},
        )
    assert "4a5d5b4d4c2f" in {rev.revision for rev in alembic.current()}
    alembic.upgrade("invenio_records_files_ext@head")
    with db_.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM records_buckets")).all()
    assert [(str(r), str(b)) for r, b in rows] == [(RECORD_ID, BUCKET_ID)]


def test_models_match_recipes(alembic_app):
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files_ext@head")
    differences = [
        diff for diff in alembic.compare_metadata() if "records_buckets" in repr(diff)
    ]
    assert differences == []
