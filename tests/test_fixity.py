"""The fixity audit in process: claims, checks, results, report, command line.

Stored bytes are changed behind the library's back (on disk, in place,
same size; in S3 through boto3) and the audit must find it. The real
Celery workers are in ``tests/test_fixity_worker.py``.
"""

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

import pytest
from click.testing import Result
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_db import db
from invenio_files_rest.models import FileInstance, Location
from sqlalchemy import update

from invenio_records_files_ext.api import Record
from invenio_records_files_ext.maintenance import fixity, fixity_reading
from invenio_records_files_ext.maintenance.fixity_report import build_report
from invenio_records_files_ext.signals import fixity_failed
from invenio_records_files_ext.storage.checksums import save_checksums, stored_checksums
from tests.helpers import (
    BucketRecord,
    QueryCounter,
    backdate_files,
    corrupt_local,
    corrupt_s3,
    counting_statements,
    receiving,
    stream,
)

DAY = 24 * 3600
DATA = b"preserved bytes\n" * 500


def add_files(
    record: BucketRecord, count: int, prefix: str = "f", data: bytes = DATA
) -> list[str]:
    """Store ``count`` files in ``record``; commit; return their keys."""
    keys = ["{0}{1:03d}.txt".format(prefix, index) for index in range(count)]
    for key in keys:
        record.files[key] = stream(data + key.encode())
    record.commit()
    db.session.commit()
    return keys


def file_of(record: BucketRecord, key: str) -> FileInstance:
    """Return the file instance of a record's current file ``key``."""
    return Record.get_record(record.id).files[key].obj.file


def instance(file_id: Any) -> FileInstance:
    """Return a file instance, fresh from the database."""
    db.session.expire_all()
    return db.session.get(FileInstance, file_id)


def seam_keeps(algorithm: str) -> bool:
    """Whether the checksums seam keeps ``algorithm`` beside MD5 (i23-sums)."""

    probe = FileInstance()  # transient: never added to the session
    save_checksums(probe, {"md5": "0" * 32, algorithm: "1" * 64})
    return algorithm in stored_checksums(probe)


#
# Schedule: due files, oldest first, at most once per interval
#
def test_due_files_are_checked_oldest_first_at_most_once_per_interval(
    record: BucketRecord,
) -> None:
    keys = add_files(record, 3)
    files = {key: file_of(record, key).id for key in keys}
    backdate_files(40 * DAY)
    # f001 was checked 10 days ago: not due with the 30-day default.
    db.session.execute(
        update(FileInstance)
        .where(FileInstance.id == files["f001.txt"])
        .values(last_check_at=fixity.utcnow() - timedelta(days=10))
    )
    # f002 was checked 35 days ago: due, after f000 (stored 40 days ago,
    # never checked: it counts from then).
    db.session.execute(
        update(FileInstance)
        .where(FileInstance.id == files["f002.txt"])
        .values(last_check_at=fixity.utcnow() - timedelta(days=35))
    )
    db.session.commit()
    assert fixity.count_due() == 2

    seen: list[fixity_reading.Outcome] = []
    first = fixity.run_audit(max_batches=1, batch=1, on_outcome=seen.append)
    assert (first.checked, first.batches) == (1, 1)
    assert seen[0].file_id == files["f000.txt"]  # stored 40 days ago
    rest = fixity.run_audit(on_outcome=seen.append)
    assert [outcome.file_id for outcome in seen] == [
        files["f000.txt"],
        files["f002.txt"],
    ]
    assert rest.checked == 1 and rest.failed == 0
    assert fixity.run_audit().checked == 0  # nothing due any more
    assert fixity.count_due() == 0
    for key in ("f000.txt", "f002.txt"):
        checked = instance(files[key])
        assert checked.last_check is True
        assert checked.last_check_at > fixity.utcnow() - timedelta(minutes=5)


def test_new_files_wait_an_interval_and_all_checks_everything(
    record: BucketRecord, cli: Callable[..., Result]
) -> None:
    add_files(record, 2)
    assert fixity.run_audit().checked == 0  # stored just now: not due
    result = cli("fixity", "run", "--all")
    assert result.exit_code == 0, result.output
    assert "Checked 2 files" in result.output and "0 failed" in result.output


def test_interval_and_batch_come_from_the_configuration(
    app: Flask, record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_files(record, 5)
    backdate_files(2 * DAY)
    monkeypatch.setitem(app.config, "RECORDS_FILES_FIXITY_INTERVAL", 3 * DAY)
    assert fixity.run_audit().checked == 0
    monkeypatch.setitem(app.config, "RECORDS_FILES_FIXITY_INTERVAL", timedelta(days=1))
    monkeypatch.setitem(app.config, "RECORDS_FILES_FIXITY_BATCH", 2)
    summary = fixity.run_audit()
    assert (summary.checked, summary.batches) == (5, 3)


def test_only_files_of_records_buckets_are_audited(record: BucketRecord) -> None:
    from invenio_files_rest.models import Bucket, ObjectVersion

    add_files(record, 1)
    loose = Bucket.create()
    ObjectVersion.create(loose, "loose.txt", stream=stream(b"not a record's"))
    db.session.commit()
    backdate_files(40 * DAY)
    assert fixity.count_due() == 1
    assert fixity.run_audit().checked == 1


def test_every_version_is_audited(record: BucketRecord) -> None:
    record.files["a.txt"] = stream(b"first")
    record.files["a.txt"] = stream(b"second")
    record.commit()
    db.session.commit()
    backdate_files(40 * DAY)
    assert fixity.run_audit().checked == 2


#
# Corruption and unreadable files
#
def test_bytes_changed_on_disk_are_found_signalled_logged(
    record: BucketRecord, caplog: pytest.LogCaptureFixture
) -> None:
    add_files(record, 2)
    bad = file_of(record, "f001.txt")
    corrupt_local(bad.uri, offset=7)
    assert os.path.getsize(bad.uri) == bad.size
    backdate_files(40 * DAY)
    with receiving(fixity_failed) as calls, caplog.at_level(logging.ERROR):
        summary = fixity.run_audit()
    assert (summary.checked, summary.passed, summary.failed) == (2, 1, 1)
    [call] = calls
    outcome = call["outcome"]
    assert outcome.file_id == bad.id and outcome.status == fixity.MISMATCH
    assert "md5 mismatch" in outcome.description
    assert instance(bad.id).last_check is False
    assert instance(file_of(record, "f000.txt").id).last_check is True
    assert str(bad.id) in caplog.text and "mismatch" in caplog.text


def test_missing_and_truncated_files(record: BucketRecord) -> None:
    add_files(record, 2)
    gone = file_of(record, "f000.txt")
    short = file_of(record, "f001.txt")
    os.remove(gone.uri)
    with open(short.uri, "r+b") as fp:
        fp.truncate(10)
    backdate_files(40 * DAY)
    outcomes: dict[Any, fixity_reading.Outcome] = {}

    def note(outcome: fixity_reading.Outcome) -> None:
        outcomes.setdefault(outcome.file_id, outcome)

    with receiving(fixity_failed) as calls:
        fixity.run_audit(on_outcome=note)
    assert len(calls) == 2
    assert outcomes[gone.id].status == fixity.UNREADABLE
    assert outcomes[gone.id].description.startswith("missing")
    assert instance(gone.id).last_check is None
    assert outcomes[short.id].status == fixity.MISMATCH
    assert "size mismatch" in outcomes[short.id].description
    assert instance(short.id).last_check is False


def test_a_receiver_that_raises_does_not_stop_the_audit(record: BucketRecord) -> None:
    add_files(record, 2)
    for key in ("f000.txt", "f001.txt"):
        corrupt_local(file_of(record, key).uri)
    backdate_files(40 * DAY)
    with receiving(fixity_failed, fail=True) as calls:
        summary = fixity.run_audit()
    assert summary.failed == 2 and len(calls) == 2


def test_a_repaired_file_passes_again(
    record: BucketRecord, cli: Callable[..., Result]
) -> None:
    add_files(record, 1)
    bad = file_of(record, "f000.txt")
    corrupt_local(bad.uri)
    assert cli("fixity", "run", "--all").exit_code == 1
    corrupt_local(bad.uri)  # the same byte flipped back
    result = cli("fixity", "run", "--all")
    assert result.exit_code == 0, result.output
    assert instance(bad.id).last_check is True


#
# Several algorithms (through the checksums seam)
#
def test_configured_algorithms_are_computed_in_the_same_read(
    app: Flask, record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_files(record, 1)
    monkeypatch.setitem(app.config, "RECORDS_FILES_CHECKSUMS", ["md5", "sha256"])
    backdate_files(40 * DAY)
    outcomes: list[fixity_reading.Outcome] = []
    summary = fixity.run_audit(on_outcome=outcomes.append)
    [outcome] = outcomes
    data = DATA + b"f000.txt"
    assert outcome.checksums == {
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert outcome.added == ("sha256",) and outcome.size == len(data)
    if not seam_keeps("sha256"):
        pytest.skip("the checksums seam keeps MD5 only (until i23-sums lands)")
    assert summary.completed == 1
    kept = stored_checksums(file_of(record, "f000.txt"))
    assert kept["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_wrong_stored_sha256_is_a_mismatch(
    app: Flask, record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not seam_keeps("sha256"):
        pytest.skip("the checksums seam keeps MD5 only (until i23-sums lands)")
    add_files(record, 1)
    fileinstance = file_of(record, "f000.txt")
    save_checksums(
        fileinstance,
        {"md5": stored_checksums(fileinstance)["md5"], "sha256": "0" * 64},
    )
    db.session.commit()
    backdate_files(40 * DAY)
    outcomes: list[fixity_reading.Outcome] = []
    fixity.run_audit(on_outcome=outcomes.append)
    assert outcomes[0].status == fixity.MISMATCH
    assert outcomes[0].description.startswith("sha256 mismatch")


def test_a_corrupted_file_gains_no_new_checksums(
    app: Flask, record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_files(record, 1)
    fileinstance = file_of(record, "f000.txt")
    corrupt_local(fileinstance.uri)
    monkeypatch.setitem(app.config, "RECORDS_FILES_CHECKSUMS", ["md5", "sha512"])
    backdate_files(40 * DAY)
    summary = fixity.run_audit()
    assert summary.failed == 1 and summary.completed == 0
    assert set(stored_checksums(instance(fileinstance.id))) == {"md5"}


#
# Sharing: claims, leases, no file checked twice
#
def test_claimed_files_are_not_claimed_again_until_the_lease_ends(
    record: BucketRecord,
) -> None:
    add_files(record, 4)
    backdate_files(40 * DAY)
    config = fixity.settings()
    cutoff = fixity.utcnow() - config.interval
    held = fixity.claim_batch(cutoff, 3, config.lease)
    assert len(held.file_ids) == 3
    # Another worker sees only the fourth file.
    other: list[fixity_reading.Outcome] = []
    assert fixity.run_audit(on_outcome=other.append).checked == 1
    assert other[0].file_id not in held.file_ids
    # The first worker stores its results: they are its own.
    summary = fixity.AuditSummary()
    fixity.check_claim(held, summary)
    assert (summary.checked, summary.lost) == (3, 0)
    assert fixity.count_due() == 0


def test_a_dead_workers_files_come_due_again_and_its_late_results_are_dropped(
    record: BucketRecord,
) -> None:
    add_files(record, 2)
    backdate_files(40 * DAY)
    cutoff = fixity.utcnow() - fixity.settings().interval
    # A worker claims with no lease left, then "dies" (never stores).
    dead = fixity.claim_batch(cutoff, 10, timedelta(0))
    assert len(dead.file_ids) == 2
    assert all(instance(file_id).last_check is True for file_id in dead.file_ids)
    assert fixity.run_audit().checked == 2  # taken over
    # Its result, should it come after all, is not stored.
    late = fixity.check_file(instance(dead.file_ids[0]))
    assert fixity.record_outcome(late, dead.mark) is False


def test_two_claimers_at_once_never_check_a_file_twice(
    app: Flask, record: BucketRecord
) -> None:
    add_files(record, 24)
    backdate_files(40 * DAY)
    seen: dict[str, list[fixity_reading.Outcome]] = {}
    errors: list[Exception] = []

    def audit(name: str) -> None:
        try:
            with app.app_context():
                seen[name] = []
                fixity.run_audit(batch=2, on_outcome=lambda o: seen[name].append(o))
                db.session.remove()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=audit, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    ids = [outcome.file_id for name in seen for outcome in seen[name]]
    assert len(ids) == 24 and len(set(ids)) == 24


def test_a_batch_costs_the_same_statements_however_many_files(
    record: BucketRecord,
) -> None:
    add_files(record, 3, prefix="a")
    backdate_files(40 * DAY)
    with counting_statements() as small:
        fixity.run_audit(max_batches=1, batch=3)
    add_files(record, 30, prefix="b")
    backdate_files(40 * DAY)
    with counting_statements() as large:
        fixity.run_audit(max_batches=1, batch=3)
    assert large.count == small.count
    claims = [sql for sql in large.statements if "LIMIT" in sql.upper()]
    assert claims, "the claim is one bounded (LIMIT) query"


#
# The report: per record, per location
#
def test_report_per_record_and_location(
    app: Flask,
    db: SQLAlchemy,
    location: Location,
    tmp_path: Path,
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other_root = tmp_path / "second"
    other_root.mkdir()
    second = Location(name="second", uri=str(other_root), default=False)
    db.session.add(second)
    db.session.commit()
    first_record = Record.create({"title": "one"})
    monkeypatch.setitem(app.config, "RECORDS_FILES_BUCKET_LOCATION", "second")
    second_record = Record.create({"title": "two"})
    db.session.commit()
    add_files(first_record, 2)
    add_files(second_record, 2)
    assert file_of(second_record, "f000.txt").uri.startswith(str(other_root))

    clean = cli("fixity", "report")
    assert clean.exit_code == 0, clean.output
    assert "4 files" in clean.output and "0 failed" in clean.output

    corrupt_local(file_of(first_record, "f001.txt").uri)
    os.remove(file_of(second_record, "f000.txt").uri)
    backdate_files(40 * DAY)
    fixity.run_audit()

    report = build_report()
    assert (report.files, report.failed, report.due) == (4, 2, 0)
    tallies = {t.location: (t.files, t.failed) for t in report.locations}
    assert tallies == {"default": (2, 1), "second": (2, 1)}
    failures = {(f.record_id, f.key): f for f in report.failures}
    assert set(failures) == {
        (first_record.id, "f001.txt"),
        (second_record.id, "f000.txt"),
    }
    assert failures[(first_record.id, "f001.txt")].status == "mismatch"
    assert failures[(second_record.id, "f000.txt")].status == "unreadable"
    assert failures[(second_record.id, "f000.txt")].location == "second"

    printed = cli("fixity", "report")
    assert printed.exit_code == 1
    lines = printed.output.splitlines()
    assert "default\t2\t1\t0" in lines and "second\t2\t1\t0" in lines
    assert "record {0}".format(first_record.id) in lines
    assert any(
        line.startswith("\tmismatch\tf001.txt") and "\tdefault\t" in line
        for line in lines
    )
    assert any(
        line.startswith("\tunreadable\tf000.txt") and "\tsecond\t" in line
        for line in lines
    )


def test_a_row_never_checked_is_due_not_failed(record: BucketRecord) -> None:
    add_files(record, 1)
    db.session.execute(update(FileInstance).values(last_check=None, last_check_at=None))
    db.session.commit()
    assert build_report().failed == 0
    backdate_files(40 * DAY)
    assert build_report().due == 1


def test_run_prints_each_failure_and_exits_1(
    record: BucketRecord, cli: Callable[..., Result]
) -> None:
    add_files(record, 2)
    bad = file_of(record, "f000.txt")
    corrupt_local(bad.uri)
    result = cli("fixity", "run", "--all", "--batch", "1")
    assert result.exit_code == 1
    assert "mismatch\t{0}\t{1}\t".format(bad.id, bad.uri) in result.output
    assert "Checked 2 files" in result.output and "in 2 batches" in result.output


#
# S3: streamed reads through invenio-s3, objects changed through boto3
#
@pytest.mark.s3
def test_s3_objects_changed_or_removed_behind_the_back(
    s3_app: Flask, s3_location: Location, s3: Any
) -> None:
    record = Record.create({"title": "s3"})
    db.session.commit()
    add_files(record, 3, data=os.urandom(3 * 1024 * 1024))
    changed = file_of(record, "f000.txt")
    removed = file_of(record, "f001.txt")
    corrupt_s3(s3, changed.uri, offset=2 * 1024 * 1024 + 5)
    bucket, _, key = removed.uri[len("s3://") :].partition("/")
    s3.delete_object(Bucket=bucket, Key=key)
    backdate_files(40 * DAY)
    outcomes: dict[Any, fixity_reading.Outcome] = {}
    with receiving(fixity_failed) as calls:
        summary = fixity.run_audit(on_outcome=lambda o: outcomes.update({o.file_id: o}))
    assert (summary.checked, summary.passed, summary.failed) == (3, 1, 2)
    assert len(calls) == 2
    assert outcomes[changed.id].status == fixity.MISMATCH
    assert outcomes[removed.id].status == fixity.UNREADABLE
    report = build_report()
    assert [(t.location, t.files, t.failed) for t in report.locations] == [("s3", 3, 2)]
    assert {f.key for f in report.failures} == {"f000.txt", "f001.txt"}


def test_reads_are_streamed_in_chunks(
    record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invenio_records_files_ext.storage import hashing

    add_files(record, 1, data=os.urandom(3 * 1024 * 1024))
    fileinstance = file_of(record, "f000.txt")
    sizes: list[int] = []
    storage = fileinstance.storage()
    with storage.open("rb") as fp:

        class Counting:
            def read(self, size: int = -1) -> bytes:
                sizes.append(size)
                data: bytes = fp.read(size)
                return data

        fixity.read_digests(Counting(), ["md5", "sha256"])
    assert set(sizes) == {hashing.READ_SIZE}
    assert len(sizes) == 5  # 3 MiB + 9 bytes in 1 MiB chunks, then EOF


def test_no_transaction_is_open_while_bytes_are_read(
    record: BucketRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_files(record, 1)
    backdate_files(40 * DAY)
    seen: list[bool] = []
    original = fixity_reading.read_digests

    def watching(
        fp: Any,
        algorithms: Iterable[str],
        advance: Optional[Callable[[int], None]] = None,
    ) -> tuple[int, dict[str, str]]:
        seen.append(db.session().in_transaction())
        return original(fp, algorithms, advance)

    monkeypatch.setattr(fixity_reading, "read_digests", watching)
    assert fixity.run_audit().checked == 1
    assert seen == [False]


def test_claim_query_skips_locked_rows_on_postgresql(
    record: BucketRecord,
    count_statements: Callable[[], AbstractContextManager[QueryCounter]],
) -> None:
    add_files(record, 1)
    backdate_files(40 * DAY)
    with count_statements() as counted:
        fixity.run_audit()
    claim = [sql for sql in counted.statements if "LIMIT" in sql.upper()][0]
    if db.engine.dialect.name == "postgresql":
        assert "FOR UPDATE OF files_files SKIP LOCKED" in claim
    else:
        assert "FOR UPDATE" not in claim
