"""Abandoned pending files: ``flask records-files gc`` removes them."""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from click.testing import Result
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location
from sqlalchemy import update

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.models import FileTransfer
from tests.helpers import files_of, storage_files, stream


def age(days: float) -> None:
    """Make every transfer look untouched for ``days`` days."""
    from invenio_db import db

    then = datetime.now(tz=timezone.utc) - timedelta(days=days)
    db.session.execute(update(FileTransfer).values(updated=then))
    db.session.commit()


def test_gc_removes_abandoned_pending_files(
    cli: Callable[..., Result], db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "t"})
    files = files_of(record)
    files.transfers.init([{"key": "old.bin", "size": 5}, {"key": "fresh.bin"}])
    files.transfers.set_content("old.bin", stream(b"12345"))
    db.session.commit()
    assert len(storage_files(location.uri)) == 1
    age(8)
    record = Record.get_record(record.id)
    record.files.transfers.set_content("fresh.bin", stream(b"new"))
    db.session.commit()

    report = cli("gc")
    assert report.exit_code == 0, report.output
    assert "Abandoned pending file 'old.bin'" in report.output
    assert "fresh.bin" not in report.output
    assert len(Record.get_record(record.id).files.transfers) == 2  # dry run

    deleted = cli("gc", "--delete", "--min-age", "0")
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted 1 abandoned pending files." in deleted.output
    record = Record.get_record(record.id)
    assert [item.key for item in record.files.transfers.pending()] == ["fresh.bin"]
    assert record.files.bucket.size == 3
    assert len(storage_files(location.uri)) == 1
    # A shorter age takes the fresh one too.
    assert "Deleted 1" in cli("gc", "--delete", "--pending-age", "0").output
    assert Record.get_record(record.id).files.bucket.size == 0
    assert storage_files(location.uri) == set()


def test_gc_orphans_spare_pending_bytes(
    cli: Callable[..., Result], db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({"title": "t"})
    files_of(record).transfers.init([{"key": "a"}])
    files_of(record).transfers.set_content("a", stream(b"abc"))
    db.session.commit()
    output = cli("gc", "--delete", "--min-age", "0").output
    assert "Orphan file instances: 0" in output
    assert len(storage_files(location.uri)) == 1


def test_purge_removes_pending_uploads(db: SQLAlchemy, location: Location) -> None:
    record = Record.create({"title": "t"})
    files_of(record).transfers.init(
        [{"key": "a"}, {"key": "m", "size": 10, "transfer": {"type": "M", "parts": 2}}]
    )
    files_of(record).transfers.set_content("a", stream(b"abc"))
    db.session.commit()
    assert len(storage_files(location.uri)) == 2
    record.delete(force=True)
    db.session.commit()
    assert storage_files(location.uri) == set()
    assert db.session.query(FileTransfer).count() == 0
