"""Garbage collection through the Python API: :func:`maintenance.gc_collect.collect`.

A dry run reports without deleting; with ``delete`` it removes what it
reported; the report counts each step's findings and removals, and the
progress callback hears of them in the order the steps run.
"""

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Bucket, FileInstance, Location, ObjectVersion
from sqlalchemy import update

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.maintenance import gc_collect
from invenio_records_files_ext.maintenance.gc_collect import GcOptions, collect
from invenio_records_files_ext.maintenance.localstorage import (
    LocalLocation,
    StrayFile,
    Sweep,
)
from invenio_records_files_ext.models import FileTransfer, RecordsBuckets
from tests.helpers import files_of, storage_files, stream

OLD = 1_000_000_000.0
"""A modification time long past (2001): older than any cut-off."""


def age_transfers(db: SQLAlchemy, days: float) -> None:
    """Make every pending file's transfer look untouched for ``days`` days."""
    then = datetime.now(tz=timezone.utc) - timedelta(days=days)
    db.session.execute(update(FileTransfer).values(updated=then))
    db.session.commit()


def old_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` at ``path``, its modification time long past."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


@pytest.fixture()
def garbage(db: SQLAlchemy, location: Location) -> dict[str, Any]:
    """One of each kind: a pending file, a bucket, a file instance, bytes.

    A record keeps ``kept.txt``; another record's bucket (sharing
    ``kept.txt``'s bytes, owning ``own.txt``'s) is unlinked; a pending file
    of a third record is abandoned; a file instance and stray bytes (in
    folders no stored file uses) are left behind.
    """
    kept = Record.create({"title": "kept"})
    files_of(kept)["kept.txt"] = stream(b"kept")
    unlinked = Record.create({"title": "unlinked"})
    files_of(unlinked).copy(kept)
    files_of(unlinked)["own.txt"] = stream(b"own")
    pending = Record.create({"title": "pending"})
    files_of(pending).transfers.init([{"key": "old.bin", "size": 5}])
    files_of(pending).transfers.set_content("old.bin", stream(b"12345"))
    orphan = FileInstance.create()
    orphan.set_contents(stream(b"orphan"), default_location=location.uri)
    db.session.commit()
    bucket_id = files_of(unlinked).bucket.id
    RecordsBuckets.query.filter_by(record_id=unlinked.id).delete()
    db.session.commit()
    age_transfers(db, 8)
    stray = old_bytes(Path(location.uri) / "zz" / "zz" / "stray" / "data", b"stray")
    return dict(
        kept=kept.id,
        kept_uri=files_of(Record.get_record(kept.id))["kept.txt"].file.uri,
        pending=pending.id,
        bucket_id=bucket_id,
        orphan_id=orphan.id,
        stray=stray,
    )


def rows() -> dict[str, int]:
    """How many rows gc may remove are left."""
    return dict(
        buckets=Bucket.query.count(),
        objects=ObjectVersion.query.count(),
        files=FileInstance.query.count(),
        transfers=FileTransfer.query.count(),
    )


def test_dry_run_reports_without_deleting(
    garbage: dict[str, Any], location: Location
) -> None:
    before, stored = rows(), storage_files(location.uri)
    report = collect(GcOptions())
    assert not report.options.delete
    assert [item.key for item in report.pending.found] == ["old.bin"]
    assert report.uploads.found == []
    assert [bucket.bucket_id for bucket in report.buckets.found] == [
        garbage["bucket_id"]
    ]
    assert report.buckets.found[0].versions == 2
    assert report.buckets.found[0].reclaim == 3
    assert [orphan.file_id for orphan in report.orphans.found] == [garbage["orphan_id"]]
    [swept] = report.bytes.sweeps
    assert (swept.name, swept.found, swept.found_bytes) == ("default", 1, 5)
    assert swept.deleted == 0
    assert report.found == 4
    assert report.errors == 0
    for step in (report.pending, report.uploads, report.orphans):
        assert step.deletion is None and step.removed == 0
    assert report.buckets.outcomes is None
    assert rows() == before
    assert storage_files(location.uri) == stored
    assert garbage["stray"].exists()


def test_delete_removes_what_it_reports(
    garbage: dict[str, Any], location: Location, db: SQLAlchemy
) -> None:
    report = collect(GcOptions(delete=True, min_age=0))
    assert report.pending.removed == 1
    assert report.buckets.removed == 1
    assert report.orphans.removed == 1
    assert report.bytes.sweeps[0].deleted == 1
    # The stray's three folders, and those the removed rows' bytes left empty.
    assert report.bytes.sweeps[0].dirs >= 3
    assert report.found == 4
    assert report.errors == 0
    assert db.session.get(Bucket, garbage["bucket_id"]) is None
    assert db.session.get(FileInstance, garbage["orphan_id"]) is None
    assert FileTransfer.query.count() == 0
    assert Record.get_record(garbage["pending"]).bucket.size == 0
    assert not garbage["stray"].exists()
    # Only the kept record's bytes are left, shared with the removed bucket.
    assert storage_files(location.uri) == {garbage["kept_uri"]}
    assert (
        files_of(Record.get_record(garbage["kept"]))["kept.txt"].file.uri
        == (garbage["kept_uri"])
    )

    again = collect(GcOptions(delete=True, min_age=0))
    assert again.found == 0
    assert again.pending.deletion is None
    assert again.buckets.outcomes is None


def test_progress_hears_each_step_in_order(
    garbage: dict[str, Any], location: Location
) -> None:
    heard: list[gc_collect.GcEvent] = []
    report = collect(GcOptions(delete=True, min_age=0), heard.append)

    def shape(event: gc_collect.GcEvent) -> tuple[str, ...]:
        if isinstance(event, (gc_collect.Listed, gc_collect.Removed)):
            return (type(event).__name__, type(event.step).__name__)
        return (type(event).__name__,)

    assert [shape(event) for event in heard] == [
        ("Listed", "PendingStep"),
        ("Removed", "PendingStep"),
        ("Listed", "UploadStep"),
        ("Listed", "BucketStep"),
        ("Removed", "BucketStep"),
        ("Listed", "OrphanStep"),
        ("Removed", "OrphanStep"),
        ("StrayFile",),
        ("Sweep",),
    ]
    # The events carry the report's own steps.
    assert heard[0] == gc_collect.Listed(report.pending)
    assert heard[-1] == report.bytes.sweeps[0]
    stray = heard[-2]
    assert isinstance(stray, StrayFile) and stray.path == str(garbage["stray"])


def test_ages(
    app: Flask,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = Record.create({})
    files_of(record).transfers.init([{"key": "a.bin"}])
    files_of(record).transfers.set_content("a.bin", stream(b"abc"))
    db.session.commit()
    age_transfers(db, 2)
    fresh = Path(location.uri) / "zz" / "fresh"
    fresh.parent.mkdir()
    fresh.write_bytes(b"being written")

    # RECORDS_FILES_PENDING_MAX_AGE by default, then the option.
    report = collect()
    assert report.pending_age == 7 * 24 * 3600
    assert report.pending.found == []
    monkeypatch.setitem(app.config, "RECORDS_FILES_PENDING_MAX_AGE", 24 * 3600)
    assert [item.key for item in collect().pending.found] == ["a.bin"]
    report = collect(GcOptions(pending_age=3 * 24 * 3600))
    assert report.pending_age == 3 * 24 * 3600
    assert report.pending.found == []

    # Bytes younger than min_age are kept (reported, not counted found).
    kept = collect(GcOptions(delete=True, pending_age=3 * 24 * 3600))
    [swept] = kept.bytes.sweeps
    assert (swept.found, swept.kept, swept.kept_bytes) == (0, 1, 13)
    assert kept.found == 0
    assert fresh.exists()


def test_skipped_locations(db: SQLAlchemy, location: Location, tmp_path: Path) -> None:
    db.session.add(Location(name="remote", uri="s3://some-bucket/files"))
    db.session.add(Location(name="gone", uri="file://" + str(tmp_path / "gone")))
    db.session.commit()
    heard: list[gc_collect.GcEvent] = []
    report = collect(progress=heard.append)
    assert [(loc.name, loc.skipped) for loc in report.bytes.skipped] == [
        ("gone", "missing"),
        ("remote", "remote"),
    ]
    assert [event for event in heard if isinstance(event, LocalLocation)] == (
        report.bytes.skipped
    )
    assert [swept.name for swept in report.bytes.sweeps] == ["default"]
    assert all(
        isinstance(event, (gc_collect.Listed, Sweep, LocalLocation)) for event in heard
    )
    assert report.found == 0 and report.errors == 0
