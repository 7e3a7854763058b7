"""The data migration: ``_files`` in the record's JSON becomes one row per file.

A database is built at the revision before the migration, with records
written the way invenio-records-files (and this package before 1.0) wrote
them, using plain SQL (so that no code of this package is involved). It is
then upgraded, checked through the library, downgraded and checked again.
Runs on SQLite and PostgreSQL.
"""

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import pytest
import sqlalchemy as sa
from flask import Flask
from invenio_db import db as db_
from invenio_files_rest.models import (
    Bucket,
    BucketTag,
    FileInstance,
    Location,
    ObjectVersion,
)
from invenio_records.models import RecordMetadata

from invenio_records_files_ext.access.ownership import OWNER_TAG
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.files import sync
from invenio_records_files_ext.models import FileEntry, RecordsBuckets
from tests.helpers import ALEMBIC_DEPENDENCIES

BEFORE = "5e8a91d2c0f7"
MIGRATION = "cdbfc3f74981"
HEAD = "invenio_records_files_ext@head"


LegacyObject = tuple[uuid.UUID, str, Optional[uuid.UUID], Optional[int]]
"""An object version as written: bucket, key, file (none: a delete marker), size."""


@dataclass
class Legacy:
    """Writes rows as the original module left them, with plain SQL."""

    connection: sa.Connection
    folder: Path
    location_id: int = 0
    versions: dict[uuid.UUID, LegacyObject] = field(default_factory=dict)

    def insert(self, model: Any, **values: Any) -> None:
        self.connection.execute(model.__table__.insert().values(**values))

    def location(self) -> None:
        self.insert(Location, id=1, name="default", uri=str(self.folder), default=True)
        self.location_id = 1

    def bucket(self) -> uuid.UUID:
        bucket_id = uuid.uuid4()
        self.insert(
            Bucket,
            id=bucket_id,
            default_location=self.location_id,
            default_storage_class="S",
            size=0,
            locked=False,
            deleted=False,
        )
        return bucket_id

    def version(
        self,
        bucket_id: uuid.UUID,
        key: str,
        data: bytes,
        head: bool = True,
        mimetype: Optional[str] = None,
    ) -> uuid.UUID:
        """Store bytes as a new version of ``key`` (the older one retired)."""
        file_id = uuid.uuid4()
        path = self.folder / file_id.hex
        path.write_bytes(data)
        self.insert(
            FileInstance,
            id=file_id,
            uri=str(path),
            storage_class="S",
            size=len(data),
            checksum="md5:" + hashlib.md5(data).hexdigest(),
            readable=True,
            writable=False,
        )
        return self._object(bucket_id, key, file_id, head, mimetype, len(data))

    def delete_marker(self, bucket_id: uuid.UUID, key: str) -> uuid.UUID:
        return self._object(bucket_id, key, None, True, None, None)

    def _object(
        self,
        bucket_id: uuid.UUID,
        key: str,
        file_id: Optional[uuid.UUID],
        head: bool,
        mimetype: Optional[str],
        size: Optional[int],
    ) -> uuid.UUID:
        table = ObjectVersion.__table__
        self.connection.execute(
            table.update()
            .where(table.c.bucket_id == bucket_id, table.c.key == key)
            .values(is_head=False)
        )
        version_id = uuid.uuid4()
        self.insert(
            ObjectVersion,
            version_id=version_id,
            key=key,
            bucket_id=bucket_id,
            file_id=file_id,
            _mimetype=mimetype,
            is_head=head,
        )
        self.versions[version_id] = (bucket_id, key, file_id, size)
        return version_id

    def entry(self, version_id: uuid.UUID, **metadata: Any) -> dict[str, Any]:
        """An entry as invenio-records-files' ``FileObject.dumps()`` made it."""
        bucket_id, key, file_id, size = self.versions[version_id]
        data = data_of(self, file_id)
        entry: dict[str, Any] = dict(metadata)
        entry.update(
            bucket=str(bucket_id),
            checksum="md5:" + hashlib.md5(data).hexdigest(),
            key=key,
            size=size,
            version_id=str(version_id),
            file_id=str(file_id),
        )
        return entry

    def record(
        self, data: Optional[dict[str, Any]], bucket_ids: Sequence[uuid.UUID] = ()
    ) -> uuid.UUID:
        record_id = uuid.uuid4()
        self.insert(
            RecordMetadata,
            id=record_id,
            json=data if data is not None else sa.null(),
            version_id=1,
        )
        for bucket_id in bucket_ids:
            self.insert(RecordsBuckets, record_id=record_id, bucket_id=bucket_id)
        return record_id


def data_of(legacy: Legacy, file_id: Optional[uuid.UUID]) -> bytes:
    return (legacy.folder / file_id.hex).read_bytes() if file_id else b""


@dataclass
class Built:
    """What the legacy database holds, for the assertions."""

    ids: dict[str, uuid.UUID]
    buckets: dict[str, uuid.UUID]
    versions: dict[str, uuid.UUID]
    json: dict[str, Any]
    """Name -> the record's JSON as written (``None`` when soft deleted)."""


def build(tmp_path: Path) -> Built:
    """Write every kind of record the migration meets; return what it wrote."""
    folder = tmp_path / "files"
    folder.mkdir(exist_ok=True)
    ids: dict[str, uuid.UUID] = {}
    buckets: dict[str, uuid.UUID] = {}
    versions: dict[str, uuid.UUID] = {}
    json: dict[str, Any] = {}
    with db_.engine.begin() as connection:
        legacy = Legacy(connection, folder)
        legacy.location()

        # Order unlike key order, metadata, a replaced file whose entry
        # names the older version, an entry naming no file, a file deleted
        # behind the record's back, a head the list forgot, unicode keys.
        bucket = buckets["main"] = legacy.bucket()
        zeta = legacy.version(bucket, "zeta.txt", b"last letter")
        unicode_key = "données/データ résumé.txt"
        accented = legacy.version(bucket, unicode_key, "ünïcode".encode())
        old_alpha = legacy.version(bucket, "alpha.csv", b"a,b\n1,2\n")
        versions["new_alpha"] = legacy.version(bucket, "alpha.csv", b"a,b\n3,4\n")
        withdrawn = legacy.version(bucket, "withdrawn.txt", b"withdrawn")
        legacy.delete_marker(bucket, "withdrawn.txt")
        versions["forgotten"] = legacy.version(bucket, "forgotten.bin", b"\x00\x01")
        versions.update(
            zeta=zeta, accented=accented, old_alpha=old_alpha, withdrawn=withdrawn
        )
        json["main"] = {
            "title": "Original layout",
            "_bucket": str(bucket),
            "_files": [
                legacy.entry(zeta, description="Last letter", type="data"),
                legacy.entry(accented, title="Ünïcode ☃"),
                legacy.entry(old_alpha, order=3, nested={"a": [1, 2]}),
                {
                    "bucket": str(bucket),
                    "checksum": "md5:0",
                    "key": "missing.pdf",
                    "size": 3,
                    "version_id": str(uuid.uuid4()),
                    "file_id": str(uuid.uuid4()),
                    "note": "its bytes were never stored",
                },
                legacy.entry(withdrawn, note="deleted through Files-REST"),
            ],
        }
        ids["main"] = legacy.record(json["main"], [bucket])

        # Written by this package before 1.0: mimetype and default preview.
        bucket = buckets["ext"] = legacy.bucket()
        readme = legacy.version(bucket, "README.md", b"# Read me")
        figure = legacy.version(
            bucket, "figure.png", b"\x89PNG", mimetype="image/x-png"
        )
        versions.update(readme=readme, figure=figure)
        json["ext"] = {
            "_bucket": str(bucket),
            "_files": [
                dict(legacy.entry(figure, caption="Figure 1"), mimetype="image/x-png"),
                dict(legacy.entry(readme), mimetype="text/markdown"),
            ],
            "_default_preview": "figure.png",
        }
        ids["ext"] = legacy.record(json["ext"], [bucket])

        # Soft deleted: its JSON is gone, its bucket holds the files.
        bucket = buckets["deleted"] = legacy.bucket()
        legacy.version(bucket, "b.txt", b"b")
        legacy.version(bucket, "a.txt", b"a")
        json["deleted"] = None
        ids["deleted"] = legacy.record(None, [bucket])

        # Without a bucket.
        json["bare"] = {"title": "No files"}
        ids["bare"] = legacy.record(json["bare"])

        # Two linked buckets: ``_bucket`` says which is the record's.
        other = buckets["other"] = legacy.bucket()
        legacy.version(other, "other.txt", b"other")
        bucket = buckets["named"] = legacy.bucket()
        named = legacy.version(bucket, "named.txt", b"named")
        json["two"] = {
            "_bucket": str(bucket),
            "_files": [legacy.entry(named)],
        }
        ids["two"] = legacy.record(json["two"], [other, bucket])

        # One bucket linked to two records: rows once, from the first.
        bucket = buckets["shared"] = legacy.bucket()
        shared = legacy.version(bucket, "shared.txt", b"shared")
        for name in ("sharer1", "sharer2"):
            json[name] = {"_bucket": str(bucket), "_files": [legacy.entry(shared)]}
            ids[name] = legacy.record(json[name], [bucket])

        # Every file deleted: an empty list.
        bucket = buckets["empty"] = legacy.bucket()
        json["empty"] = {"_bucket": str(bucket), "_files": []}
        ids["empty"] = legacy.record(json["empty"], [bucket])
    return Built(ids, buckets, versions, json)


@pytest.fixture()
def alembic(alembic_app: Flask) -> Any:
    """Alembic, the database at the revision before the migration."""
    alembic = alembic_app.extensions["invenio-db"].alembic
    alembic.upgrade(ALEMBIC_DEPENDENCIES + [BEFORE])
    return alembic


@pytest.fixture()
def migration(alembic: Any, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The migration's module, made to work in batches of a few records."""
    module: ModuleType = alembic.script_directory.get_revision(MIGRATION).module
    monkeypatch.setattr(module, "ID_SCAN", 3)
    monkeypatch.setattr(module, "BATCH_RECORDS", 2)
    return module


def stored_json(record_id: uuid.UUID) -> Any:
    table = RecordMetadata.__table__
    with db_.engine.connect() as connection:
        return connection.execute(
            sa.select(table.c.json).where(table.c.id == record_id)
        ).scalar_one()


def revisions() -> tuple[Any, list[Any]]:
    with db_.engine.connect() as connection:
        return (
            connection.execute(
                sa.select(sa.func.count()).select_from(
                    sa.table("records_metadata_version")
                )
            ).scalar(),
            sorted(
                connection.execute(
                    sa.select(
                        RecordMetadata.__table__.c.id,
                        RecordMetadata.__table__.c.version_id,
                    )
                ).all()
            ),
        )


def rows_of(bucket_id: uuid.UUID) -> list[FileEntry]:
    rows: list[FileEntry] = (
        db_.session.query(FileEntry)
        .filter_by(bucket_id=bucket_id)
        .order_by(FileEntry.position)
        .all()
    )
    return rows


def test_upgrade_moves_entries_into_rows(
    alembic: Any,
    migration: ModuleType,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    built = build(tmp_path)
    before = revisions()
    with caplog.at_level(logging.INFO, logger="alembic.runtime.migration"):
        alembic.upgrade(HEAD)
    # No record revision, no version bump: what the record shows is the same.
    assert revisions() == before

    rows = rows_of(built.buckets["main"])
    assert [(row.key, row.position) for row in rows] == [
        ("zeta.txt", 1),
        ("données/データ résumé.txt", 2),
        ("alpha.csv", 3),
        ("withdrawn.txt", 4),
        ("forgotten.bin", 5),
    ]
    by_key = {row.key: row for row in rows}
    assert by_key["zeta.txt"].json == {"description": "Last letter", "type": "data"}
    assert by_key["alpha.csv"].json == {"order": 3, "nested": {"a": [1, 2]}}
    # The replaced file names the current version, not the listed one.
    assert by_key["alpha.csv"].version_id == built.versions["new_alpha"]
    assert by_key["alpha.csv"].size == 8
    # Deleted through Files-REST: the entry's own version is kept.
    assert by_key["withdrawn.txt"].version_id == built.versions["withdrawn"]
    assert by_key["withdrawn.txt"].json == {"note": "deleted through Files-REST"}
    assert by_key["forgotten.bin"].json == {}
    assert by_key["zeta.txt"].mimetype == "text/plain"
    assert by_key["alpha.csv"].mimetype == "text/csv"
    assert {row.status for row in rows} == {"completed"}
    assert not any(row.preview for row in rows)
    assert "missing.pdf" in caplog.text
    assert "names no existing file" in caplog.text

    assert stored_json(built.ids["main"]) == {
        "title": "Original layout",
        "_bucket": str(built.buckets["main"]),
    }
    record = Record.get_record(built.ids["main"])
    assert record.files.keys == [row.key for row in rows]
    entries = record["_files"]
    assert entries[1]["key"] == "données/データ résumé.txt"
    assert entries[1]["title"] == "Ünïcode ☃"
    assert entries[2]["version_id"] == str(built.versions["new_alpha"])
    assert record.files["alpha.csv"]["order"] == 3
    with record.files["alpha.csv"].file.storage().open("rb") as fp:
        assert fp.read() == b"a,b\n3,4\n"
    # Only the file deleted behind the record's back differs from the bucket.
    report = sync.repair(built.buckets["main"], dry_run=True)
    assert (report.added, report.updated, report.removed) == (
        [],
        [],
        ["withdrawn.txt"],
    )

    ext = Record.get_record(built.ids["ext"])
    assert ext.files.keys == ["figure.png", "README.md"]
    assert ext.files.default_preview == "figure.png"
    assert ext["_default_preview"] == "figure.png"
    assert ext["_files"][0]["caption"] == "Figure 1"
    assert ext["_files"][0]["mimetype"] == "image/x-png"
    assert "mimetype" not in rows_of(built.buckets["ext"])[1].json
    assert stored_json(built.ids["ext"]) == {"_bucket": str(built.buckets["ext"])}

    deleted = rows_of(built.buckets["deleted"])
    assert [(row.key, row.position) for row in deleted] == [("a.txt", 1), ("b.txt", 2)]
    assert stored_json(built.ids["deleted"]) is None

    assert stored_json(built.ids["bare"]) == {"title": "No files"}
    assert [row.key for row in rows_of(built.buckets["named"])] == ["named.txt"]
    assert rows_of(built.buckets["other"]) == []
    assert rows_of(built.buckets["empty"]) == []
    assert [row.key for row in rows_of(built.buckets["shared"])] == ["shared.txt"]
    assert "is shared with a record migrated before" in caplog.text
    for name in ("sharer1", "sharer2"):
        assert stored_json(built.ids[name]) == {"_bucket": str(built.buckets["shared"])}
    assert stored_json(built.ids["empty"]) == {"_bucket": str(built.buckets["empty"])}

    # Every linked bucket is marked as a record's.
    marked = {tag.bucket_id for tag in BucketTag.query.filter_by(key=OWNER_TAG).all()}
    assert marked == set(built.buckets.values())


def test_downgrade_puts_entries_back(
    alembic: Any, migration: ModuleType, tmp_path: Path
) -> None:
    built = build(tmp_path)
    alembic.upgrade(HEAD)
    alembic.downgrade(BEFORE)
    assert "records_files_entry" not in sa.inspect(db_.engine).get_table_names()
    assert BucketTag.query.filter_by(key=OWNER_TAG).count() == 0

    main = stored_json(built.ids["main"])
    expected = [
        dict(entry, mimetype=mimetype)
        for entry, mimetype in zip(built.json["main"]["_files"], ["text/plain"] * 2)
    ]
    assert main["_files"][:2] == expected
    assert [entry["key"] for entry in main["_files"]] == [
        "zeta.txt",
        "données/データ résumé.txt",
        "alpha.csv",
        "withdrawn.txt",
        "forgotten.bin",
    ]
    # The replaced file's entry now names its current version.
    alpha = main["_files"][2]
    assert alpha["version_id"] == str(built.versions["new_alpha"])
    assert alpha["order"] == 3 and alpha["nested"] == {"a": [1, 2]}
    assert set(alpha) == {
        "bucket",
        "checksum",
        "file_id",
        "key",
        "mimetype",
        "size",
        "version_id",
        "order",
        "nested",
    }
    assert main["title"] == "Original layout"
    assert "_default_preview" not in main

    assert stored_json(built.ids["ext"]) == built.json["ext"]
    assert stored_json(built.ids["deleted"]) is None
    assert stored_json(built.ids["bare"]) == built.json["bare"]
    assert stored_json(built.ids["two"]) == dict(
        built.json["two"],
        _files=[dict(built.json["two"]["_files"][0], mimetype="text/plain")],
    )
    # An empty list is not written back.
    assert stored_json(built.ids["empty"]) == {"_bucket": str(built.buckets["empty"])}

    # And up again: the same rows. (The session's read transaction ends
    # first: on SQLite it would keep the migration from committing.)
    db_.session.rollback()
    alembic.upgrade(HEAD)
    assert [row.key for row in rows_of(built.buckets["main"])][-1] == "forgotten.bin"


def test_upgrade_of_an_empty_database(alembic: Any, migration: ModuleType) -> None:
    alembic.upgrade(HEAD)
    assert db_.session.query(FileEntry).count() == 0
    db_.session.rollback()
    alembic.downgrade(BEFORE)
    assert "records_files_entry" not in sa.inspect(db_.engine).get_table_names()
