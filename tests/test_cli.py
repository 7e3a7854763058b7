"""The ``flask records-files`` maintenance commands."""

import os
import time
import uuid
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any, Optional, cast

import pytest
from click.testing import Result
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import (
    Bucket,
    FileInstance,
    Location,
    MultipartObject,
    ObjectVersion,
)

from invenio_records_files_ext import cli as cli_module
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.files.fileobject import FileObject
from invenio_records_files_ext.maintenance import attach as attach_module
from invenio_records_files_ext.maintenance import check as check_module
from invenio_records_files_ext.models import RecordsBuckets
from invenio_records_files_ext.storage import hashing
from tests.helpers import BucketRecord, files_of, storage_files, stream

OLD = time.time() - 7 * 86400


def write(path: Path, data: bytes) -> Path:
    """Create a local file (and its folders) holding ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A folder to attach: ``data/a.txt``, ``data/sub/b.txt`` and more."""
    root = tmp_path / "upload" / "data"
    write(root / "a.txt", b"alpha")
    write(root / "sub" / "b.txt", b"bravo!")
    write(root / "sub" / "deeper" / "c.bin", bytes(range(256)))
    return root


def reload(record: Record) -> BucketRecord:
    """Read a record back from the database."""
    stored: BucketRecord = Record.get_record(record.id, with_deleted=True)
    return stored


def read(fileobj: FileObject) -> bytes:
    """Return the stored bytes of a file."""
    with fileobj.file.storage().open("rb") as fp:
        data: bytes = fp.read()
        return data


def versions(record: BucketRecord, key: str) -> int:
    """Number of versions of ``key`` in the record's bucket."""
    query = ObjectVersion.query.filter_by(bucket_id=record.bucket.id, key=key)
    count: int = query.count()
    return count


def test_group_help_lists_commands(cli: Callable[..., Result]) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in cli_module.records_files.commands:
        assert command in result.output


@pytest.mark.parametrize("page", ["api.rst", "lifecycle.rst"])
def test_the_docs_list_every_command(page: str) -> None:
    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / page).read_text()
    missing = [
        name
        for name in cli_module.records_files.commands
        if "``{0}``".format(name) not in text
    ]
    assert missing == [], "docs/{0} does not list {1}".format(page, missing)


#
# attach
#
def test_attach_folder_and_file(
    cli: Callable[..., Result], record: BucketRecord, tree: Path, tmp_path: Path
) -> None:
    single = write(tmp_path / "elsewhere" / "single.txt", b"one")
    result = cli("attach", record.id, tree, single)
    assert result.exit_code == 0, result.output
    assert "Attached 4 files (270 bytes); skipped 0" in result.stdout
    stored = reload(record)
    assert stored.files.keys == [
        "data/a.txt",
        "data/sub/b.txt",
        "data/sub/deeper/c.bin",
        "single.txt",
    ]
    assert read(stored.files["data/sub/b.txt"]) == b"bravo!"
    assert read(stored.files["data/sub/deeper/c.bin"]) == bytes(range(256))
    assert stored.files["single.txt"].file.checksum.startswith("md5:")


def test_attach_trailing_slash_and_relative_path(
    cli: Callable[..., Result],
    record: BucketRecord,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tree.parent)
    result = cli("attach", record.id, "data/")
    assert result.exit_code == 0, result.output
    assert reload(record).files.keys[0] == "data/a.txt"


def test_attach_again_skips_identical_and_replaces_changed(
    cli: Callable[..., Result], record: BucketRecord, tree: Path
) -> None:
    assert cli("attach", record.id, tree).exit_code == 0
    first = reload(record).files["data/a.txt"].file.id

    # Same size, other bytes: only the checksum tells them apart.
    write(tree / "sub" / "b.txt", b"BRAVO!")
    write(tree / "new.txt", b"new")
    result = cli("attach", record.id, tree)
    assert result.exit_code == 0, result.output
    assert "Attached 2 files (9 bytes); skipped 2 already attached" in result.stdout

    stored = reload(record)
    assert read(stored.files["data/sub/b.txt"]) == b"BRAVO!"
    assert versions(stored, "data/sub/b.txt") == 2
    assert versions(stored, "data/a.txt") == 1
    assert stored.files["data/a.txt"].file.id == first
    # Replaced files keep their place; new ones come last.
    assert stored.files.keys == [
        "data/a.txt",
        "data/sub/b.txt",
        "data/sub/deeper/c.bin",
        "data/new.txt",
    ]


def test_attach_same_size_changed_bytes_is_stored(
    cli: Callable[..., Result], record: BucketRecord, tmp_path: Path
) -> None:
    path = write(tmp_path / "f.txt", b"aaaa")
    assert cli("attach", record.id, path).exit_code == 0
    write(path, b"bbbb")
    result = cli("attach", record.id, path)
    assert "Attached 1 files" in result.stdout
    assert read(reload(record).files["f.txt"]) == b"bbbb"


def test_attach_interrupted_keeps_committed_batches(
    cli: Callable[..., Result],
    record: BucketRecord,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "many"
    for index in range(5):
        write(folder / "f{0}.txt".format(index), b"x" * (index + 1))
    real_read = attach_module.ProgressFile.read

    def failing_read(self: attach_module.ProgressFile, size: int = -1) -> bytes:
        if self.path.endswith("f3.txt"):
            raise OSError("disk on fire")
        return real_read(self, size)

    monkeypatch.setattr(attach_module.ProgressFile, "read", failing_read)
    result = cli("attach", "--batch-size", 2, record.id, folder)
    assert result.exit_code == 1
    assert "disk on fire" in result.output
    assert "after attaching 2 files" in result.output
    assert reload(record).files.keys == ["many/f0.txt", "many/f1.txt"]
    files_before = storage_files(Location.get_default().uri)
    assert len(files_before) == 2

    monkeypatch.setattr(attach_module.ProgressFile, "read", real_read)
    result = cli("attach", "--batch-size", 2, record.id, folder)
    assert result.exit_code == 0, result.output
    assert "Attached 3 files (12 bytes); skipped 2" in result.stdout
    assert len(reload(record).files.keys) == 5


def test_attach_batches_by_bytes(
    cli: Callable[..., Result], record: BucketRecord, tree: Path
) -> None:
    result = cli("attach", "--batch-bytes", 1, record.id, tree)
    assert result.exit_code == 0, result.output
    stored = reload(record)
    assert len(stored.files.keys) == 3
    # One batch (hence one transaction) per file: three distinct times.
    created = {
        obj.created
        for obj in ObjectVersion.query.filter_by(bucket_id=stored.bucket.id).all()
    }
    assert len(created) == 3


def test_attach_empty_folder(
    cli: Callable[..., Result], record: BucketRecord, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("attach", record.id, tmp_path / "empty")
    assert result.exit_code == 0
    assert "Attached 0 files (0 bytes); skipped 0" in result.stdout


def test_attach_missing_path(
    cli: Callable[..., Result], record: BucketRecord, tmp_path: Path
) -> None:
    result = cli("attach", record.id, tmp_path / "nope")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert reload(record).files.keys == []


def test_attach_requires_a_path(
    cli: Callable[..., Result], record: BucketRecord
) -> None:
    result = cli("attach", record.id)
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_attach_unknown_record(
    cli: Callable[..., Result], location: Location, tree: Path
) -> None:
    missing = uuid.uuid4()
    result = cli("attach", missing, tree)
    assert result.exit_code == 1
    assert "No record with id {0}.".format(missing) in result.output


def test_attach_unknown_pid(
    cli: Callable[..., Result], location: Location, tree: Path
) -> None:
    result = cli("attach", "not-a-uuid", tree)
    assert result.exit_code == 2
    assert "No record with PID recid:not-a-uuid." in result.output


def test_attach_two_paths_one_key(
    cli: Callable[..., Result], record: BucketRecord, tmp_path: Path
) -> None:
    one = write(tmp_path / "one" / "same.txt", b"1")
    two = write(tmp_path / "two" / "same.txt", b"2")
    result = cli("attach", record.id, one, two)
    assert result.exit_code == 2
    assert "would both be stored as 'same.txt'" in result.output
    assert reload(record).files.keys == []


def test_attach_two_spellings_of_one_key(
    cli: Callable[..., Result], record: BucketRecord, tmp_path: Path
) -> None:
    """Keys are stored in NFC: NFC and NFD file names are one key."""
    nfc = write(tmp_path / "caf\u00e9.txt", b"1")
    nfd = write(tmp_path / "other" / "cafe\u0301.txt", b"2")
    result = cli("attach", record.id, nfc, nfd)
    assert result.exit_code == 2
    assert "would both be stored as 'caf\u00e9.txt'" in result.output
    assert reload(record).files.keys == []


def test_attach_to_deleted_record(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tree: Path
) -> None:
    record.delete()
    db.session.commit()
    result = cli("attach", record.id, tree)
    assert result.exit_code == 1
    assert "is deleted" in result.output


def test_attach_to_locked_record(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tree: Path
) -> None:
    record.files.lock()
    db.session.commit()
    result = cli("attach", record.id, tree)
    assert result.exit_code == 1
    assert "are locked" in result.output


def test_attach_to_record_without_bucket(
    cli: Callable[..., Result], location: Location, db: SQLAlchemy, tree: Path
) -> None:
    record = Record.create({}, with_bucket=False)
    db.session.commit()
    result = cli("attach", record.id, tree)
    assert result.exit_code == 1
    assert "has no bucket" in result.output


def test_attach_quota_error_is_reported(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, tmp_path: Path
) -> None:
    record.bucket.quota_size = 4
    db.session.commit()
    path = write(tmp_path / "big.txt", b"too big")
    result = cli("attach", record.id, path)
    assert result.exit_code == 1
    assert "Stopped:" in result.output
    assert reload(record).files.keys == []
    assert storage_files(Location.get_default().uri) == set()


#
# list
#
def test_list_in_record_order(
    cli: Callable[..., Result],
    record: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    record.files["b.txt"] = make_stream(b"bb")
    record.files["a.txt"] = make_stream(b"a")
    db.session.commit()
    checksums = {key: record.files[key].file.checksum for key in ("a.txt", "b.txt")}
    result = cli("list", record.id)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "b.txt\t2\t{0}".format(checksums["b.txt"]),
        "a.txt\t1\t{0}".format(checksums["a.txt"]),
        "Total: 2 files, 3 bytes",
    ]


def test_list_empty_record(cli: Callable[..., Result], record: BucketRecord) -> None:
    result = cli("list", record.id)
    assert result.exit_code == 0
    assert result.stdout == "Total: 0 files, 0 bytes\n"


def test_list_soft_deleted_record_keeps_order(
    cli: Callable[..., Result],
    record: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    for key in ("c.txt", "a.txt", "b.txt"):
        record.files[key] = make_stream(key.encode())
    db.session.commit()
    record.delete()
    db.session.commit()
    result = cli("list", record.id)
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.stdout.splitlines()[:3]] == [
        "c.txt",
        "a.txt",
        "b.txt",
    ]
    assert "is deleted" in result.stderr
    # Listing changed nothing: the record is still deleted and locked.
    stored = reload(record)
    assert stored.model.is_deleted
    assert stored.files.locked


def test_list_unknown_and_bad_ids(
    cli: Callable[..., Result], location: Location
) -> None:
    assert cli("list", uuid.uuid4()).exit_code == 1
    result = cli("list", "1234")
    assert result.exit_code == 2
    assert "Invalid value for RECORD: No record with PID recid:1234." in (result.output)


#
# verify
#
@pytest.fixture()
def filled(
    record: BucketRecord, db: SQLAlchemy, make_stream: Callable[..., BytesIO]
) -> BucketRecord:
    """The record with two files, committed."""
    record.files["a.txt"] = make_stream(b"alpha")
    record.files["b.txt"] = make_stream(b"bravo")
    db.session.commit()
    return record


def test_verify_clean(cli: Callable[..., Result], filled: BucketRecord) -> None:
    result = cli("verify", filled.id)
    assert result.exit_code == 0, result.output
    assert "Verified 2 files (10 bytes): 0 problems." in result.stdout


def test_verify_detects_corrupt_bytes(
    cli: Callable[..., Result], filled: BucketRecord
) -> None:
    uri = filled.files["b.txt"].file.uri
    with open(uri, "wb") as fp:
        fp.write(b"BRAVO")
    result = cli("verify", filled.id)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("{0}\tb.txt\tchecksum mismatch".format(filled.id))
    assert "Verified 2 files (10 bytes): 1 problem." in lines


def test_verify_detects_missing_and_truncated_bytes(
    cli: Callable[..., Result], filled: BucketRecord
) -> None:
    os.remove(filled.files["a.txt"].file.uri)
    with open(filled.files["b.txt"].file.uri, "wb") as fp:
        fp.write(b"br")
    result = cli("verify", filled.id)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("{0}\ta.txt\tmissing".format(filled.id))
    assert lines[1] == "{0}\tb.txt\tsize mismatch: stored 5 bytes, read 2".format(
        filled.id
    )


def test_verify_all(
    cli: Callable[..., Result],
    filled: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    other = Record.create({})
    files_of(other)["c.txt"] = make_stream(b"charlie")
    db.session.commit()
    assert cli("verify", "--all").exit_code == 0
    with open(files_of(other)["c.txt"].file.uri, "wb") as fp:
        fp.write(b"CHARLIE")
    result = cli("verify", "--all")
    assert result.exit_code == 1
    assert "{0}\tc.txt\tchecksum mismatch".format(other.id) in result.stdout
    assert "Verified 3 files (17 bytes): 1 problem." in result.stdout


def test_verify_only_current_versions(
    cli: Callable[..., Result],
    filled: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    old_uri = filled.files["a.txt"].file.uri
    filled.files["a.txt"] = make_stream(b"ALPHA, again")
    db.session.commit()
    os.remove(old_uri)
    assert cli("verify", filled.id).exit_code == 0


def test_verify_soft_deleted_record(
    cli: Callable[..., Result], filled: BucketRecord, db: SQLAlchemy
) -> None:
    filled.delete()
    db.session.commit()
    assert cli("verify", filled.id).exit_code == 0


def test_verify_arguments(cli: Callable[..., Result], filled: BucketRecord) -> None:
    result = cli("verify")
    assert result.exit_code == 2
    assert "Give a RECORD_ID or --all." in result.output
    result = cli("verify", "--all", filled.id)
    assert result.exit_code == 2
    assert "not both" in result.output
    assert cli("verify", uuid.uuid4()).exit_code == 1
    assert cli("verify", "zzz").exit_code == 2


#
# gc
#
def state(root: str) -> dict[str, object]:
    """Snapshot of the database rows and stored files gc may touch."""
    return dict(
        buckets=Bucket.query.count(),
        objects=ObjectVersion.query.count(),
        files=FileInstance.query.count(),
        uploads=MultipartObject.query.count(),
        bytes=storage_files(root),
    )


@pytest.fixture()
def orphaned(
    filled: BucketRecord, db: SQLAlchemy, make_stream: Callable[..., BytesIO]
) -> tuple[uuid.UUID, str, str]:
    """A second record copying ``filled``'s files, then unlinked.

    Its bucket shares ``a.txt`` and ``b.txt`` with ``filled`` and owns the
    bytes of ``own.txt`` and of a multipart upload in progress.
    """
    other = cast(BucketRecord, Record.create({}))
    files_of(other).copy(filled)
    files_of(other)["own.txt"] = make_stream(b"mine only")
    bucket = other.bucket
    MultipartObject.create(
        bucket, "upload.bin", size=6 * 1024 * 1024, chunk_size=5 * 1024 * 1024
    )
    db.session.commit()
    own = files_of(other)["own.txt"].file.uri
    upload = MultipartObject.query.filter_by(bucket_id=bucket.id).one().file.uri
    RecordsBuckets.query.filter_by(record_id=other.id).delete()
    db.session.commit()
    return bucket.id, own, upload


def test_gc_reports_unused_bucket(
    cli: Callable[..., Result],
    filled: BucketRecord,
    orphaned: tuple[uuid.UUID, str, str],
    location: Location,
) -> None:
    bucket_id, own, upload = orphaned
    before = state(location.uri)
    result = cli("gc")
    assert result.exit_code == 0, result.output
    assert (
        "Unused bucket {0}: 3 object versions, {1} bytes ({2} bytes used by "
        "no other bucket)".format(
            bucket_id, 10 + 9 + 6 * 1024 * 1024, 9 + 6 * 1024 * 1024
        )
        in result.stdout
    )
    assert "Dry run: nothing was deleted" in result.stdout
    assert state(location.uri) == before


def test_gc_deletes_unused_bucket_keeping_shared_bytes(
    cli: Callable[..., Result],
    filled: BucketRecord,
    orphaned: tuple[uuid.UUID, str, str],
    location: Location,
    db: SQLAlchemy,
) -> None:
    bucket_id, own, upload = orphaned
    shared = {filled.files[key].file.uri for key in ("a.txt", "b.txt")}
    result = cli("gc", "--delete")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 unused buckets." in result.stdout
    assert db.session.get(Bucket, bucket_id) is None
    assert ObjectVersion.query.filter_by(bucket_id=bucket_id).count() == 0
    assert MultipartObject.query.count() == 0
    assert not os.path.exists(own)
    assert not os.path.exists(upload)
    assert shared <= storage_files(location.uri)
    assert storage_files(location.uri) == shared
    assert cli("verify", "--all").exit_code == 0
    assert "Unused buckets: 0" in cli("gc").stdout


def test_gc_unreferenced_bytes(
    cli: Callable[..., Result], filled: BucketRecord, location: Location
) -> None:
    kept = storage_files(location.uri)
    # Not hex: no stored file can share these folders (which would then
    # not be empty, and not removed).
    stray = write(
        Path(location.uri) / "zz" / "zz" / "stray" / "data",
        b"left by an aborted upload",
    )
    result = cli("gc", "--min-age", 0)
    assert result.exit_code == 0, result.output
    assert "Unreferenced bytes {0}: 25 bytes".format(stray) in result.stdout
    assert (
        "Location 'default' ({0}): 1 unreferenced files, 25 bytes; 0 recent "
        "files (0 bytes) kept.".format(location.uri)
        in result.stdout
    )
    assert stray.exists()

    result = cli("gc", "--delete", "--min-age", 0)
    assert result.exit_code == 0, result.output
    assert "Deleted 1 unreferenced files and 3 empty directories." in result.stdout
    assert not stray.exists()
    assert not (stray.parent.parent.parent).exists()
    assert storage_files(location.uri) == kept
    assert cli("verify", filled.id).exit_code == 0


def test_gc_keeps_recent_bytes_by_default(
    cli: Callable[..., Result], filled: BucketRecord, location: Location
) -> None:
    folder = Path(location.uri) / "zz" / "yy"
    fresh = write(folder / "fresh" / "data", b"being uploaded")
    old = write(folder / "old" / "data", b"aborted long ago")
    os.utime(old, (OLD, OLD))
    result = cli("gc", "--delete")
    assert result.exit_code == 0, result.output
    assert "Unreferenced bytes {0}: 14 bytes (recent, kept)".format(fresh) in (
        result.stdout
    )
    assert fresh.exists()
    assert not old.exists()
    assert not old.parent.exists()
    # The folder an upload in progress writes into stays.
    assert fresh.parent.exists()


def test_gc_orphan_file_instance(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy, location: Location
) -> None:
    fileinstance = FileInstance.create()
    fileinstance.set_contents(stream(b"nobody's"), default_location=location.uri)
    db.session.commit()
    uri = fileinstance.uri
    file_id = fileinstance.id
    result = cli("gc")
    assert "Orphan file instance {0}: 8 bytes at {1}".format(file_id, uri) in (
        result.stdout
    )
    assert os.path.exists(uri)
    # Its bytes are referenced: they are not reported a second time.
    assert "Unreferenced bytes" not in result.stdout

    result = cli("gc", "--delete")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 orphan file instances." in result.stdout
    assert db.session.get(FileInstance, file_id) is None
    assert not os.path.exists(uri)


def test_gc_dry_run_changes_nothing(
    cli: Callable[..., Result],
    filled: BucketRecord,
    orphaned: tuple[uuid.UUID, str, str],
    location: Location,
    db: SQLAlchemy,
) -> None:
    write(Path(location.uri) / "stray.bin", b"junk")
    FileInstance.create().set_contents(stream(b"orphan"), default_location=location.uri)
    db.session.commit()
    before = state(location.uri)
    for args in (("gc",), ("gc", "--dry-run"), ("gc", "--dry-run", "--min-age", 0)):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert "Dry run: nothing was deleted" in result.stdout
        assert state(location.uri) == before


def test_gc_clean_instance(
    cli: Callable[..., Result], filled: BucketRecord, location: Location
) -> None:
    result = cli("gc", "--min-age", 0)
    assert result.exit_code == 0
    assert "Unused buckets: 0, 0 bytes to reclaim." in result.stdout
    assert "Orphan file instances: 0, 0 bytes." in result.stdout
    assert "0 unreferenced files, 0 bytes" in result.stdout
    assert "Dry run" not in result.stdout


def test_gc_skips_remote_and_missing_locations(
    cli: Callable[..., Result], location: Location, db: SQLAlchemy, tmp_path: Path
) -> None:
    db.session.add(Location(name="remote", uri="s3://some-bucket/files"))
    db.session.add(Location(name="gone", uri="file://" + str(tmp_path / "gone")))
    db.session.commit()
    result = cli("gc")
    assert result.exit_code == 0, result.output
    assert "Location 'remote' (s3://some-bucket/files) is not a local folder" in (
        result.stdout
    )
    assert "Location 'gone': folder {0} does not exist".format(tmp_path / "gone") in (
        result.stdout
    )


def test_gc_file_uri_location(
    cli: Callable[..., Result], db: SQLAlchemy, tmp_path: Path
) -> None:
    root = tmp_path / "by-uri"
    root.mkdir()
    db.session.add(Location(name="default", uri="file://" + str(root), default=True))
    db.session.commit()
    record = Record.create({})
    files_of(record)["a.txt"] = stream(b"kept")
    db.session.commit()
    stray = write(root / "stray", b"x")
    result = cli("gc", "--delete", "--min-age", 0)
    assert result.exit_code == 0, result.output
    assert not stray.exists()
    assert read(reload(record).files["a.txt"]) == b"kept"


def test_gc_bad_min_age(cli: Callable[..., Result], location: Location) -> None:
    result = cli("gc", "--min-age", "soon")
    assert result.exit_code == 2
    assert "is not a duration" in result.output


@pytest.mark.parametrize(
    "value, seconds",
    [("0", 0), ("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400)],
)
def test_duration_values(value: str, seconds: int) -> None:
    assert cli_module.DURATION.convert(value, None, None) == seconds


def test_attach_unreadable_file_stops_cleanly(
    cli: Callable[..., Result],
    record: BucketRecord,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write(tmp_path / "f.txt", b"data")
    assert cli("attach", record.id, path).exit_code == 0

    def refuse(
        path: str, size: int, stored_size: Optional[int], checksum: Optional[str]
    ) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(hashing, "file_matches", refuse)
    result = cli("attach", record.id, path)
    assert result.exit_code == 1
    assert "Stopped: [Errno 13] Permission denied" in result.output
    assert "Run the command again to resume." in result.output


def test_attach_ignores_linked_folders_and_special_files(
    cli: Callable[..., Result], record: BucketRecord, tree: Path
) -> None:
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    (tree / "dangling").symlink_to(tree / "nowhere")
    result = cli("attach", record.id, tree)
    assert result.exit_code == 0, result.output
    assert "Not a regular file or folder, ignored: {0}".format(tree / "loop") in (
        result.stderr
    )
    assert "ignored: {0}".format(tree / "dangling") in result.stderr
    assert len(reload(record).files.keys) == 3


#
# Records named by PID
#
@pytest.fixture()
def numbered(
    record: BucketRecord, db: SQLAlchemy, make_stream: Callable[..., BytesIO]
) -> BucketRecord:
    """``record`` with a file, registered as ``recid:6`` and ``doi:10.1/x:y``."""
    from invenio_pidstore.models import PersistentIdentifier, PIDStatus

    record.files["a.txt"] = make_stream(b"alpha")
    for pid_type, pid_value in (("recid", "6"), ("doi", "10.1/x:y")):
        PersistentIdentifier.create(
            pid_type,
            pid_value,
            object_type="rec",
            object_uuid=record.id,
            status=PIDStatus.REGISTERED,
        )
    db.session.commit()
    return record


@pytest.mark.parametrize(
    "args",
    [
        ("list", "6"),
        ("list", "recid:6"),
        ("list", " recid:6 "),
        ("--pid-type", "doi", "list", "10.1/x:y"),
        ("list", "doi:10.1/x:y"),
    ],
)
def test_record_named_by_pid(
    cli: Callable[..., Result], numbered: BucketRecord, args: tuple[str, ...]
) -> None:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("a.txt\t5\t")


def test_default_pid_type_from_config(
    cli: Callable[..., Result],
    numbered: BucketRecord,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "RECORDS_FILES_CLI_DEFAULT_PID_TYPE", "doi")
    assert cli("list", "10.1/x:y").exit_code == 0
    result = cli("list", "6")
    assert result.exit_code == 2
    assert "No record with PID doi:6." in result.output
    # The group's option wins over the configuration.
    assert cli("--pid-type", "recid", "list", "6").exit_code == 0


def test_unknown_pids_are_usage_errors(
    cli: Callable[..., Result], numbered: BucketRecord, db: SQLAlchemy
) -> None:
    from invenio_pidstore.models import PersistentIdentifier, PIDStatus

    PersistentIdentifier.create("recid", "7", status=PIDStatus.RESERVED)
    db.session.commit()
    for args, message in (
        (("list", "60"), "No record with PID recid:60."),
        (("list", "doi:10.1/z"), "No record with PID doi:10.1/z or recid:doi:10.1/z."),
        (("verify", "recid:60"), "No record with PID recid:60 or recid:recid:60."),
        (("attach", "7", "."), "PID recid:7 does not point to a record."),
        (("check", "6", "60"), "No record with PID recid:60."),
        (("list", ""), "A record id cannot be empty."),
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
        assert "Usage:" in result.output


def test_soft_deleted_record_by_pid(
    cli: Callable[..., Result], numbered: BucketRecord, db: SQLAlchemy
) -> None:
    numbered.delete()
    db.session.commit()
    result = cli("list", "recid:6")
    assert result.exit_code == 0, result.output
    assert "is deleted" in result.stderr


def test_messages_name_the_record_as_it_was_given(
    cli: Callable[..., Result], numbered: BucketRecord, db: SQLAlchemy, tree: Path
) -> None:
    numbered.files.lock()
    db.session.commit()
    uuid_text = str(numbered.id)
    for given, named in (
        ("recid:6", "recid:6"),
        ("6", "recid:6"),
        ("doi:10.1/x:y", "doi:10.1/x:y"),
        (uuid_text, uuid_text),
    ):
        result = cli("attach", given, tree)
        assert result.exit_code == 1, result.output
        assert "The files of record {0} are locked.".format(named) in result.output
        if named != uuid_text:
            assert uuid_text not in result.output

    numbered.delete()
    db.session.commit()
    for args, message in (
        (("attach", "6", tree), "Record recid:6 is deleted; restore it"),
        (("list", "6"), "Record recid:6 is deleted; its files are kept read-only."),
    ):
        result = cli(*args)
        assert message in result.output, result.output
        assert uuid_text not in result.stderr


def test_a_record_without_bucket_is_named_as_given(
    cli: Callable[..., Result], location: Location, db: SQLAlchemy
) -> None:
    from invenio_pidstore.models import PersistentIdentifier, PIDStatus

    record = Record.create({}, with_bucket=False)
    PersistentIdentifier.create(
        "recid",
        "8",
        object_type="rec",
        object_uuid=record.id,
        status=PIDStatus.REGISTERED,
    )
    db.session.commit()
    result = cli("list", "8")
    assert result.exit_code == 1
    assert "Record recid:8 has no bucket." in result.output
    result = cli("check", "recid:8")
    assert "Record recid:8 has no bucket: nothing to check." in result.output


def test_attach_and_verify_by_pid(
    cli: Callable[..., Result], numbered: BucketRecord, tmp_path: Path
) -> None:
    path = write(tmp_path / "b.txt", b"bravo")
    assert cli("attach", "6", path).exit_code == 0
    assert reload(numbered).files.keys == ["a.txt", "b.txt"]
    result = cli("verify", "recid:6")
    assert result.exit_code == 0
    assert "Verified 2 files (10 bytes): 0 problems." in result.stdout


#
# check
#
def _drift(
    record: BucketRecord, db: SQLAlchemy, make_stream: Callable[..., BytesIO]
) -> None:
    """Change object versions behind the rows' back, with plain SQL.

    ``added.txt`` gets a version but no row, ``a.txt`` a new current version
    its row does not name, ``b.txt`` loses its current version, and the row
    of ``c.txt`` says a wrong MIME type.
    """
    from sqlalchemy import insert, update

    from invenio_records_files_ext.models import FileEntry

    record.files["a.txt"] = make_stream(b"alpha")
    record.files["b.txt"] = make_stream(b"bravo")
    record.files["c.txt"] = make_stream(b"charlie")
    db.session.commit()
    bucket_id = record.bucket.id
    a_file = record.files["a.txt"].file.id
    table = ObjectVersion.__table__
    statements = [
        update(table)
        .where(table.c.bucket_id == bucket_id, table.c.key.in_(["a.txt", "b.txt"]))
        .values(is_head=False),
        insert(table).values(
            version_id=uuid.uuid4(),
            bucket_id=bucket_id,
            key="a.txt",
            file_id=a_file,
            is_head=True,
        ),
        insert(table).values(
            version_id=uuid.uuid4(),
            bucket_id=bucket_id,
            key="b.txt",
            file_id=None,
            is_head=True,
        ),
        insert(table).values(
            version_id=uuid.uuid4(),
            bucket_id=bucket_id,
            key="added.txt",
            file_id=a_file,
            is_head=True,
        ),
        update(FileEntry.__table__)
        .where(FileEntry.__table__.c.key == "c.txt")
        .values(mimetype="application/x-wrong"),
    ]
    # Plain statements: nothing tells the library about them.
    for statement in statements:
        db.session.execute(statement)
    db.session.commit()


def test_check_reports_and_repairs(
    cli: Callable[..., Result],
    record: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    _drift(record, db, make_stream)
    result = cli("check", record.id)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "{0}\tadded.txt\tadded".format(record.id),
        "{0}\ta.txt\tupdated".format(record.id),
        "{0}\tc.txt\tupdated".format(record.id),
        "{0}\tb.txt\tremoved".format(record.id),
        "Checked 1 record: 1 with differences (1 added, 2 updated, 1 removed).",
    ]
    # A check changes nothing.
    assert cli("check", record.id).stdout == result.stdout

    result = cli("check", "--repair", record.id)
    assert result.exit_code == 0, result.output
    assert "Checked 1 record: repaired 1 (1 added, 2 updated, 1 removed)." in (
        result.stdout
    )
    stored = reload(record)
    assert stored.files.keys == ["a.txt", "c.txt", "added.txt"]
    assert stored.files["c.txt"]["mimetype"] == "text/plain"

    result = cli("check", record.id)
    assert result.exit_code == 0
    assert result.stdout == (
        "Checked 1 record: 0 with differences (0 added, 0 updated, 0 removed).\n"
    )


def test_check_all(
    cli: Callable[..., Result],
    record: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    clean = Record.create({})
    files_of(clean)["x.txt"] = make_stream(b"x")
    db.session.commit()
    Record.create({}, with_bucket=False)
    deleted = Record.create({})
    files_of(deleted)["y.txt"] = make_stream(b"y")
    deleted.delete()
    db.session.commit()
    _drift(record, db, make_stream)

    result = cli("check", "--all")
    assert result.exit_code == 1
    assert "Checked 3 records: 1 with differences" in result.stdout
    assert {line.split("\t")[0] for line in result.stdout.splitlines()[:-1]} == {
        str(record.id)
    }
    assert cli("check", "--all", "--repair").exit_code == 0
    result = cli("check", "--all")
    assert result.exit_code == 0
    assert "Checked 3 records: 0 with differences" in result.stdout


def test_check_goes_on_after_a_record_that_fails(
    cli: Callable[..., Result],
    record: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = Record.create({})
    files_of(other)["x.txt"] = make_stream(b"x")
    db.session.commit()
    _drift(record, db, make_stream)
    real = check_module.check_links

    def failing(links: list[check_module.Link], repair: bool = False) -> Any:
        if links[0].record_id == other.id:
            raise RuntimeError("the disk is on fire")
        return real(links, repair=repair)

    monkeypatch.setattr(check_module, "check_links", failing)
    result = cli("check", "--all")
    assert result.exit_code == 1
    assert "Could not check record {0}: ".format(other.id) in result.stdout
    assert "the disk is on fire" in result.stdout
    # The failure hides nothing of the other record, checked after or before.
    assert "{0}\t".format(record.id) in result.stdout
    assert "Checked 1 record: 1 with differences" in result.stdout


def test_check_walks_links_in_slices(
    record: BucketRecord,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from invenio_records_files_ext.maintenance import check as check_module

    others = [Record.create({}) for _ in range(4)]
    db.session.commit()
    found = [links for links in check_module.all_links(slice_size=2)]
    assert sorted(links[0].record_id for links in found) == sorted(
        [record.id] + [other.id for other in others]
    )
    assert all(len(links) == 1 for links in found)


def test_check_arguments(
    cli: Callable[..., Result], record: BucketRecord, db: SQLAlchemy
) -> None:
    result = cli("check")
    assert result.exit_code == 2
    assert "Give RECORD ids or --all." in result.output
    result = cli("check", "--all", record.id)
    assert result.exit_code == 2
    assert "not both" in result.output
    missing = uuid.uuid4()
    result = cli("check", missing)
    assert result.exit_code == 1
    assert "No record with id {0}.".format(missing) in result.output
    bare = Record.create({}, with_bucket=False)
    db.session.commit()
    result = cli("check", bare.id, record.id)
    assert result.exit_code == 0
    assert "Record {0} has no bucket: nothing to check.".format(bare.id) in (
        result.stderr
    )
    assert "Checked 1 record: 0 with differences" in result.stdout


#
# gc: buckets of other modules
#
def test_gc_leaves_other_modules_buckets(
    cli: Callable[..., Result],
    filled: BucketRecord,
    location: Location,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    foreign = Bucket.create()
    ObjectVersion.create(foreign, "logo.png", stream=make_stream(b"logo"))
    db.session.commit()
    foreign_id = foreign.id
    foreign_uri = foreign.objects[0].file.uri

    result = cli("gc", "--delete")
    assert result.exit_code == 0, result.output
    assert "Unused buckets: 0, 0 bytes to reclaim." in result.stdout
    assert db.session.get(Bucket, foreign_id) is not None
    assert os.path.exists(foreign_uri)

    result = cli("gc", "--include-unmarked-buckets")
    assert "Unused bucket {0}: 1 object versions, 4 bytes".format(foreign_id) in (
        result.stdout
    )
    result = cli("gc", "--delete", "--include-unmarked-buckets")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 unused buckets." in result.stdout
    db.session.expire_all()
    assert db.session.get(Bucket, foreign_id) is None
    assert not os.path.exists(foreign_uri)
    assert cli("verify", filled.id).exit_code == 0


def test_gc_help_names_the_risk(cli: Callable[..., Result]) -> None:
    result = cli("gc", "--help")
    assert "--include-unmarked-buckets" in result.output
    assert "other modules'" in result.output
    assert "deleted with their files" in " ".join(result.output.split())


def test_purge_marks_a_shared_bucket(
    cli: Callable[..., Result],
    location: Location,
    db: SQLAlchemy,
    make_stream: Callable[..., BytesIO],
) -> None:
    """A bucket linked outside the library is marked when a purge unlinks it."""
    from invenio_records_files_ext.access.ownership import OWNER_TAG

    first = Record.create({}, with_bucket=False)
    second = Record.create({}, with_bucket=False)
    bucket = Bucket.create()
    ObjectVersion.create(bucket, "shared.txt", stream=make_stream(b"shared"))
    db.session.commit()
    bucket_id = bucket.id
    for record in (first, second):
        db.session.execute(
            RecordsBuckets.__table__.insert().values(
                record_id=record.id, bucket_id=bucket_id
            )
        )
    db.session.commit()
    assert BucketTagCount(db, bucket_id, OWNER_TAG) == 0

    reload(first).delete(force=True)
    db.session.commit()
    assert BucketTagCount(db, bucket_id, OWNER_TAG) == 1
    RecordsBuckets.query.filter_by(bucket_id=bucket_id).delete()
    db.session.commit()
    result = cli("gc")
    assert "Unused bucket {0}".format(bucket_id) in result.stdout


def BucketTagCount(db: SQLAlchemy, bucket_id: uuid.UUID, key: str) -> int:
    """Number of tags ``key`` on a bucket."""
    from invenio_files_rest.models import BucketTag

    count: int = BucketTag.query.filter_by(bucket_id=bucket_id, key=key).count()
    return count


def test_verify_unsupported_checksum(
    cli: Callable[..., Result], filled: BucketRecord, db: SQLAlchemy
) -> None:
    fileinstance = filled.files["a.txt"].file
    fileinstance.checksum = "whirlpool9:abcdef"
    db.session.commit()
    result = cli("verify", filled.id)
    assert result.exit_code == 1
    assert (
        "{0}\ta.txt\tcannot compare: unsupported or missing checksum "
        "'whirlpool9:abcdef'".format(filled.id)
        in result.stdout
    )
