"""Alembic recipes: this package's branch and the legacy revisions."""

import pytest
import sqlalchemy as sa
from flask import Flask
from invenio_db import db as db_
from sqlalchemy_utils.types import UUIDType

from tests.helpers import OWN_TABLES

RECORD_ID = "3fa4a9a4-5c62-4d52-9d5e-8a0c2f0e6f11"
BUCKET_ID = "0b9f5e26-7d61-4a3c-9f8e-2c1d0a7b4e22"


def _tables(app: Flask) -> set[str]:
    return set(sa.inspect(db_.engine).get_table_names())


OBJECT_KEY_INDEX = "ix_records_files_object_bucket_key"
FIXITY_INDEXES = ("ix_records_files_object_file_id", "ix_records_files_files_last_seen")


def _indexes(app: Flask, table: str = "records_buckets") -> set[str]:
    return {ix["name"] for ix in sa.inspect(db_.engine).get_indexes(table)}


def test_branch_creates_its_tables(alembic_app: Flask) -> None:
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files_ext@head")
    own = set(OWN_TABLES)
    assert own <= _tables(alembic_app)
    assert "ix_records_buckets_bucket_id" in _indexes(alembic_app)
    columns = {c["name"] for c in sa.inspect(db_.engine).get_columns("records_buckets")}
    assert columns == {"record_id", "bucket_id"}
    assert OBJECT_KEY_INDEX in _indexes(alembic_app, "files_object")
    alembic.downgrade("c3f1e2a9b7d4")
    assert not own & _tables(alembic_app)
    assert OBJECT_KEY_INDEX not in _indexes(alembic_app, "files_object")


def test_database_migrated_by_invenio_records_files(alembic_app: Flask) -> None:
    """The legacy revisions resolve and the existing table is kept."""
    if db_.engine.dialect.name != "postgresql":
        pytest.skip("Invenio's own recipes need PostgreSQL")
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


# Alembic cannot compare an expression index on SQLite, which does not have
# it anyway (models.FIXITY_DUE_INDEX is PostgreSQL's only): it says so.
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_models_match_recipes(alembic_app: Flask) -> None:
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files_ext@head")
    differences = [
        diff
        for diff in alembic.compare_metadata()
        if any(
            name in repr(diff)
            for name in OWN_TABLES + (OBJECT_KEY_INDEX,) + FIXITY_INDEXES
        )
        and not _sqlite_uuid_artefact(diff)
    ]
    assert differences == []


def _sqlite_uuid_artefact(diff: object) -> bool:
    """SQLite reflects UUIDType's BINARY(16) as NUMERIC(16), for every table."""
    if db_.engine.dialect.name != "sqlite" or not isinstance(diff, list):
        return False
    kind, _, _, _, _, reflected, declared = diff[0]
    return (
        kind == "modify_type"
        and isinstance(declared, UUIDType)
        and isinstance(reflected, sa.NUMERIC)
        and reflected.precision == 16
    )


def test_transfer_table_comes_and_goes(alembic_app: Flask) -> None:
    """The transfer table has its own revision, on top of the key index."""
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files_ext@head")
    columns = {
        c["name"] for c in sa.inspect(db_.engine).get_columns("records_files_transfer")
    }
    assert {"entry_id", "type", "state", "file_id", "reserved", "json"} <= columns
    alembic.downgrade("e4b7d2a19c03")
    assert "records_files_transfer" not in _tables(alembic_app)
    assert OBJECT_KEY_INDEX in _indexes(alembic_app, "files_object")
    assert "records_files_entry" in _tables(alembic_app)


def test_checksums_table_comes_and_goes(alembic_app: Flask) -> None:
    """The checksums kept beside the MD5 have their own revision."""
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files_ext@head")
    columns = {
        c["name"] for c in sa.inspect(db_.engine).get_columns("records_files_checksums")
    }
    assert columns == {"file_id", "algorithm", "value"}
    keys = sa.inspect(db_.engine).get_foreign_keys("records_files_checksums")
    assert [(k["referred_table"], k["options"].get("ondelete")) for k in keys] == [
        ("files_files", "CASCADE")
    ]
    alembic.downgrade("7b1e4c9d2a6f")
    assert "records_files_checksums" not in _tables(alembic_app)
    assert "records_files_transfer" in _tables(alembic_app)


def test_fixity_indexes_come_and_go(alembic_app: Flask) -> None:
    """The fixity audit's indexes of Files-REST's tables have their own revision."""
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade("invenio_records_files_ext@head")
    link, due = FIXITY_INDEXES
    # The expression index is PostgreSQL's only (SQLite's cannot be reflected).
    postgresql = db_.engine.dialect.name == "postgresql"
    assert link in _indexes(alembic_app, "files_object")
    assert (due in _indexes(alembic_app, "files_files")) is postgresql
    alembic.downgrade("a8d3f0c6e1b5")
    assert link not in _indexes(alembic_app, "files_object")
    assert due not in _indexes(alembic_app, "files_files")
    assert "records_files_checksums" in _tables(alembic_app)
