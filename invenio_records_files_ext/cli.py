"""``flask records-files``: maintenance commands for records' files.

* ``attach RECORD_ID PATH...`` stores local files and folders in a record,
  in committed batches; running it again resumes where it stopped.
* ``list RECORD_ID`` prints a record's files (soft-deleted records too).
* ``verify RECORD_ID`` / ``verify --all`` re-reads the bytes through the
  storage and compares them with the stored checksums.
* ``gc`` finds what nothing uses any more: buckets linked to no record,
  file instances no object points to, and bytes in local storage folders
  that no file instance points to. It only reports unless given
  ``--delete``.

The group is meant to be registered as the ``records-files`` entry of
``flask.commands``.
"""

import hashlib
import os
import re
import time
import uuid

import click
from flask.cli import AppGroup
from invenio_db import db
from invenio_files_rest.models import (
    Bucket,
    FileInstance,
    Location,
    ObjectVersion,
)
from sqlalchemy import delete, func, select
from sqlalchemy.exc import NoResultFound

from . import ledger
from .api import Record
from .errors import InvalidFileKeyError
from .keys import validate_key
from .lifecycle import remove_bucket
from .models import RecordsBuckets
from .references import bucket_file_ids, orphans, used_elsewhere
from .sql import chunks

CHUNK_SIZE = 1024 * 1024
"""Bytes read at a time when hashing: memory stays constant per file."""


class RecordIdParamType(click.ParamType):
    """A record id on the command line: a UUID."""

    name = "uuid"

    def convert(self, value, param, ctx):
        """Return the :class:`uuid.UUID`, or fail with a usage error."""
        if isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(str(value))
        except ValueError:
            self.fail("{0!r} is not a valid UUID.".format(value), param, ctx)


class DurationParamType(click.ParamType):
    """A duration: seconds, or a number followed by ``s``, ``m``, ``h``, ``d``."""

    name = "duration"
    _UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
    _PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")

    def convert(self, value, param, ctx):
        """Return the duration in seconds (a float)."""
        if isinstance(value, (int, float)):
            return float(value)
        match = self._PATTERN.match(str(value).lower())
        if match is None:
            self.fail(
                "{0!r} is not a duration (for example 30, 90s, 15m, 2h, 1d).".format(
                    value
                ),
                param,
                ctx,
            )
        return float(match.group(1)) * self._UNITS[match.group(2)]


RECORD_ID = RecordIdParamType()
DURATION = DurationParamType()


@click.group("records-files", cls=AppGroup)
def records_files():
    """Maintain records' files: attach, list, verify, collect garbage."""


#
# Shared helpers
#
def _stderr():
    # Progress bars go to stderr so that stdout holds only the report.
    return click.get_text_stream("stderr")


def _load_record(record_id, allow_deleted=False):
    try:
        record = Record.get_record(record_id, with_deleted=True)
    except NoResultFound:
        raise click.ClickException("No record with id {0}.".format(record_id))
    if record.model.is_deleted and not allow_deleted:
        raise click.ClickException(
            "Record {0} is deleted; restore it before changing its files.".format(
                record_id
            )
        )
    return record


def _record_files(record):
    files = record.files
    if files is None:
        raise click.ClickException("Record {0} has no bucket.".format(record.id))
    return files


def _files_in_order(record):
    """Return the record's current files, in the record's order."""
    return list(_record_files(record))


def _new_hash(checksum):
    """Return ``(hash object, expected hex digest)`` for a stored checksum."""
    algorithm, _, expected = (checksum or "").partition(":")
    if not algorithm or not expected:
        return None, None
    try:
        return hashlib.new(algorithm, usedforsecurity=False), expected.lower()
    except (ValueError, TypeError):
        return None, None


def _digest_file(path, digest):
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _same_bytes(path, size, stored):
    """Tell whether a local file has the size and checksum of a stored file."""
    stored_size, stored_checksum = stored
    if stored_size != size:
        return False
    digest, expected = _new_hash(stored_checksum)
    if digest is None:
        return False
    return _digest_file(path, digest) == expected


#
# attach
#
class _ProgressFile:
    """A local file opened on its first read, feeding a progress bar.

    ``files.update()`` receives a whole batch of streams at once; opening
    them lazily keeps a single descriptor open whatever the batch size.
    """

    def __init__(self, path, bar):
        """Remember the path; nothing is opened yet."""
        self.path = path
        self.bar = bar
        self._fp = None
        self._done = False

    def read(self, size=-1):
        """Read up to ``size`` bytes and advance the progress bar."""
        if self._done:
            return b""
        if self._fp is None:
            self._fp = open(self.path, "rb")
        chunk = self._fp.read(size)
        if chunk:
            self.bar.update(len(chunk))
        else:
            self.close()
        return chunk

    def close(self):
        """Close the file; later reads return nothing."""
        self._done = True
        if self._fp is not None:
            self._fp.close()
            self._fp = None


def _collect(paths):
    """Return ``([(key, path, size)], ignored paths)`` for the given paths."""
    found, ignored, owner = [], [], {}

    def add(key, path):
        try:
            validate_key(key)
        except InvalidFileKeyError as error:
            raise click.BadParameter(
                "{0}: {1}".format(path, error.message), param_hint="PATH"
            )
        if key in owner:
            raise click.BadParameter(
                "{0} and {1} would both be stored as {2!r}.".format(
                    owner[key], path, key
                ),
                param_hint="PATH",
            )
        owner[key] = path
        try:
            size = os.path.getsize(path)
        except OSError as error:
            raise click.BadParameter(
                "{0}: {1}".format(path, error.strerror or error), param_hint="PATH"
            )
        found.append((key, path, size))

    for given in paths:
        absolute = os.path.abspath(given)
        if os.path.isdir(absolute):
            parent = os.path.dirname(absolute)
            for dirpath, dirnames, filenames in os.walk(absolute):
                # Linked folders are not followed: they may loop, or lead
                # far outside what was asked for.
                ignored.extend(
                    os.path.join(dirpath, name)
                    for name in dirnames
                    if os.path.islink(os.path.join(dirpath, name))
                )
                # Sorted so that files are appended to the record in a
                # predictable order, the same on every run.
                dirnames.sort()
                for name in sorted(filenames):
                    path = os.path.join(dirpath, name)
                    if not os.path.isfile(path):
                        # Sockets, FIFOs, dangling links: reading them would
                        # block or fail.
                        ignored.append(path)
                        continue
                    key = os.path.relpath(path, parent).replace(os.sep, "/")
                    add(key, path)
        elif os.path.isfile(absolute):
            add(os.path.basename(absolute), absolute)
        else:
            raise click.BadParameter(
                "{0!r} is neither a regular file nor a directory.".format(given),
                param_hint="PATH",
            )
    return found, ignored


def _store_batch(record_id, batch, bar):
    # A fresh record for every batch: after a commit another writer may have
    # changed the record's files, and an iterator kept from before would
    # write its stale ``_files`` back over theirs.
    files = _record_files(_load_record(record_id))
    streams = [(key, _ProgressFile(path, bar)) for key, path, _ in batch]
    try:
        files.update(streams)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        for _, stream in streams:
            stream.close()


def _error_text(error):
    return (
        getattr(error, "message", None)
        or getattr(error, "description", None)
        or str(error)
        or type(error).__name__
    )


@records_files.command("attach")
@click.argument("record_id", type=RECORD_ID)
@click.argument(
    "paths",
    metavar="PATH...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=str),
)
@click.option(
    "--batch-size",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Files stored per transaction.",
)
@click.option(
    "--batch-bytes",
    default=1024**3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bytes stored per transaction (a larger file is a batch of its own).",
)
def attach(record_id, paths, batch_size, batch_bytes):
    """Attach local files and folders (recursively) to a record.

    A file is stored under its name; a folder's files under their path
    from the folder's parent (folder/sub/file.txt). A key the record
    already holds gets a new version, unless the stored file has the same
    size and checksum, in which case it is skipped: an interrupted run can
    simply be started again. Files are committed in batches.
    """
    record = _load_record(record_id)
    files = _record_files(record)
    if files.locked:
        raise click.ClickException(
            "The files of record {0} are locked.".format(record_id)
        )
    items, ignored = _collect(paths)
    stored = {
        fileobj.key: (fileobj.obj.file.size, fileobj.obj.file.checksum)
        for fileobj in files
    }
    # Nothing was written: end the read transaction instead of holding it
    # open (and the database snapshot with it) while files are hashed.
    db.session.rollback()

    done = dict(attached=0, attached_bytes=0, skipped=0, skipped_bytes=0)
    batch, pending = [], 0

    def stopped(error):
        return click.ClickException(
            "Stopped: {0} (after attaching {1} files and skipping {2}; {3} "
            "queued files were not stored). Run the command again to "
            "resume.".format(
                _error_text(error), done["attached"], done["skipped"], len(batch)
            )
        )

    def flush():
        nonlocal batch, pending
        try:
            _store_batch(record_id, batch, bar)
        except click.ClickException:
            raise
        except Exception as error:
            raise stopped(error)
        done["attached"] += len(batch)
        done["attached_bytes"] += pending
        batch, pending = [], 0

    total = sum(size for _, _, size in items)
    with click.progressbar(length=total, label="Attaching", file=_stderr()) as bar:
        for key, path, size in items:
            try:
                same = key in stored and _same_bytes(path, size, stored[key])
            except OSError as error:
                raise stopped(error)
            if same:
                done["skipped"] += 1
                done["skipped_bytes"] += size
                bar.update(size)
                continue
            batch.append((key, path, size))
            pending += size
            if len(batch) >= batch_size or pending >= batch_bytes:
                flush()
        if batch:
            flush()

    for path in ignored:
        click.echo("Not a regular file or folder, ignored: {0}".format(path), err=True)
    click.echo(
        "Attached {attached} files ({attached_bytes} bytes); skipped {skipped} "
        "already attached ({skipped_bytes} bytes).".format(**done)
    )


#
# list
#
@records_files.command("list")
@click.argument("record_id", type=RECORD_ID)
def list_files(record_id):
    """List a record's files in order: key, size and checksum.

    Soft-deleted records are listed too, in the order they had.
    """
    record = _load_record(record_id, allow_deleted=True)
    found = _files_in_order(record)
    if record.model.is_deleted:
        click.echo(
            "Record {0} is deleted; its files are kept read-only.".format(record_id),
            err=True,
        )
    total = 0
    for fileobj in found:
        file = fileobj.obj.file
        total += file.size or 0
        click.echo("{0}\t{1}\t{2}".format(fileobj.key, file.size, file.checksum or "-"))
    click.echo("Total: {0} files, {1} bytes".format(len(found), total))


#
# verify
#
def _check_bytes(fileinstance, advance):
    """Re-read a file's bytes; return a description of the problem, or None."""
    if not fileinstance.uri:
        return "no bytes: the file instance has no URI"
    digest, expected = _new_hash(fileinstance.checksum)
    read = 0
    try:
        with fileinstance.storage().open("rb") as fp:
            for chunk in iter(lambda: fp.read(CHUNK_SIZE), b""):
                read += len(chunk)
                advance(len(chunk))
                if digest is not None:
                    digest.update(chunk)
    except FileNotFoundError:
        return "missing: no bytes at {0}".format(fileinstance.uri)
    except Exception as error:  # noqa: BLE001 - storage backends raise anything
        return "unreadable: {0}".format(_error_text(error))
    finally:
        # Keep the bar's total right when fewer bytes than expected came.
        advance(max((fileinstance.size or 0) - read, 0))
    if fileinstance.size is not None and read != fileinstance.size:
        return "size mismatch: stored {0} bytes, read {1}".format(
            fileinstance.size, read
        )
    if digest is None:
        return "cannot compare: unsupported or missing checksum {0!r}".format(
            fileinstance.checksum
        )
    actual = digest.hexdigest()
    if actual != expected:
        return "checksum mismatch: stored {0}, computed {1}:{2}".format(
            fileinstance.checksum, digest.name, actual
        )
    return None


def _all_heads(*columns):
    return (
        select(*columns)
        .select_from(RecordsBuckets)
        .join(ObjectVersion, ObjectVersion.bucket_id == RecordsBuckets.bucket_id)
        .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
        .where(ObjectVersion.is_head.is_(True))
    )


def _files_to_verify(record_id, all_records):
    """Return ``(count, bytes, iterable of (record id, key, file instance))``."""
    if not all_records:
        record = _load_record(record_id, allow_deleted=True)
        found = [
            (record.id, fileobj.key, fileobj.obj.file)
            for fileobj in _files_in_order(record)
        ]
        return len(found), sum(item[2].size or 0 for item in found), found
    count, size = db.session.execute(
        _all_heads(func.count(), func.coalesce(func.sum(FileInstance.size), 0))
    ).one()
    rows = db.session.execute(
        _all_heads(RecordsBuckets.record_id, ObjectVersion.key, FileInstance).order_by(
            RecordsBuckets.record_id, ObjectVersion.key
        )
        # Rows arrive in slices: memory does not grow with the database.
        .execution_options(yield_per=500)
    )
    return count, int(size), (tuple(row) for row in rows)


@records_files.command("verify")
@click.argument("record_id", type=RECORD_ID, required=False)
@click.option("--all", "all_records", is_flag=True, help="Verify every record.")
@click.pass_context
def verify(ctx, record_id, all_records):
    """Check that the stored bytes still match their checksums.

    Every current file of the record (or of every record with ``--all``) is
    read back through its storage. Each problem is printed on one line:
    record id, key and what is wrong. Exits with 1 if there is any problem.
    """
    if record_id is None and not all_records:
        raise click.UsageError("Give a RECORD_ID or --all.")
    if record_id is not None and all_records:
        raise click.UsageError("Give either a RECORD_ID or --all, not both.")
    _, size, items = _files_to_verify(record_id, all_records)
    problems, checked = [], 0
    with click.progressbar(length=size, label="Verifying", file=_stderr()) as bar:
        for item_record_id, key, fileinstance in items:
            checked += 1
            problem = _check_bytes(fileinstance, bar.update)
            if problem is not None:
                problems.append((item_record_id, key, problem))
    db.session.rollback()
    for item_record_id, key, problem in problems:
        click.echo("{0}\t{1}\t{2}".format(item_record_id, key, problem))
    click.echo(
        "Verified {0} files ({1} bytes): {2} problem{3}.".format(
            checked, size, len(problems), "" if len(problems) == 1 else "s"
        )
    )
    if problems:
        ctx.exit(1)


#
# gc: unused buckets
#
class _GcReport:
    """What a ``gc`` run found and did, shared by its steps."""

    def __init__(self):
        """Start with nothing found."""
        self.found = 0
        self.errors = 0
        self.seen = set()
        """Unreferenced paths already reported (locations may nest)."""
        self.emptied = set()
        """Folders this run emptied: removed whatever their age."""

    def bytes_removed(self, uri):
        """Note the folders that removing the bytes at ``uri`` empties."""
        path = _local_folder(uri) if uri else None
        if path is not None:
            folder = os.path.dirname(path)
            self.emptied.update((folder, os.path.dirname(folder)))


def _unused_bucket_ids():
    linked = select(RecordsBuckets.record_id).where(
        RecordsBuckets.bucket_id == Bucket.id
    )
    return list(
        db.session.execute(
            select(Bucket.id).where(~linked.exists()).order_by(Bucket.created)
        ).scalars()
    )


def _sizes_of(file_ids):
    total = 0
    for chunk in chunks(file_ids):
        total += db.session.execute(
            select(func.coalesce(func.sum(FileInstance.size), 0)).where(
                FileInstance.id.in_(chunk)
            )
        ).scalar()
    return int(total)


def _describe_bucket(bucket_id):
    versions = db.session.execute(
        select(func.count()).where(ObjectVersion.bucket_id == bucket_id)
    ).scalar()
    file_ids = bucket_file_ids(bucket_id)
    return (
        versions,
        _sizes_of(file_ids),
        _sizes_of(file_ids - used_elsewhere(file_ids, bucket_id=bucket_id)),
    )


def _delete_bucket(bucket_id, report):
    """Remove an unused bucket and what only it uses; return if removed."""
    session = db.session
    # Lock the bucket before looking at its links: a transaction linking it
    # to a record (or adding an object to it) waits for this one and then
    # fails on the missing bucket, instead of losing its files.
    locked = session.execute(
        select(Bucket.id).where(Bucket.id == bucket_id).with_for_update()
    ).first()
    if locked is None:
        return False
    linked = session.execute(
        select(RecordsBuckets.record_id).where(RecordsBuckets.bucket_id == bucket_id)
    ).first()
    if linked is not None:
        return False
    for _, uri in remove_bucket(bucket_id):
        # The ledger deletes the bytes once the removal is committed.
        report.bytes_removed(uri)
    return True


def _gc_buckets(dry_run, report):
    bucket_ids = _unused_bucket_ids()
    described = [(bucket_id, _describe_bucket(bucket_id)) for bucket_id in bucket_ids]
    db.session.rollback()
    total = 0
    for bucket_id, (versions, size, reclaim) in described:
        total += reclaim
        click.echo(
            "Unused bucket {0}: {1} object versions, {2} bytes ({3} bytes used "
            "by no other bucket)".format(bucket_id, versions, size, reclaim)
        )
    click.echo(
        "Unused buckets: {0}, {1} bytes to reclaim.".format(len(described), total)
    )
    report.found += len(described)
    if dry_run:
        return
    removed = 0
    for bucket_id in bucket_ids:
        try:
            if _delete_bucket(bucket_id, report):
                removed += 1
            else:
                click.echo("Bucket {0} is in use again: kept.".format(bucket_id))
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            report.errors += 1
            click.echo(
                "Could not delete bucket {0}: {1}".format(bucket_id, _error_text(error))
            )
    if bucket_ids:
        click.echo("Deleted {0} unused buckets.".format(removed))


#
# gc: file instances no object uses
#
def _orphan_files(*columns, ids=None):
    query = orphans(*columns)
    if ids is not None:
        query = query.where(FileInstance.id.in_(ids))
    return query


def _gc_file_instances(dry_run, report):
    rows = db.session.execute(
        _orphan_files(FileInstance.id, FileInstance.size, FileInstance.uri).order_by(
            FileInstance.created
        )
    ).all()
    db.session.rollback()
    for file_id, size, uri in rows:
        click.echo(
            "Orphan file instance {0}: {1} bytes at {2}".format(file_id, size, uri)
        )
    click.echo(
        "Orphan file instances: {0}, {1} bytes.".format(
            len(rows), sum(size or 0 for _, size, _ in rows)
        )
    )
    report.found += len(rows)
    if dry_run:
        return
    removed = 0
    for chunk in chunks([row[0] for row in rows]):
        try:
            # Looked at again under lock: one may have been used meanwhile.
            orphans = (
                db.session.execute(
                    _orphan_files(FileInstance, ids=chunk).with_for_update()
                )
                .scalars()
                .all()
            )
            for fileinstance in orphans:
                if fileinstance.uri:
                    ledger.doom(fileinstance.storage())
                    report.bytes_removed(fileinstance.uri)
            db.session.execute(
                delete(FileInstance).where(
                    FileInstance.id.in_([fileinstance.id for fileinstance in orphans])
                )
            )
            db.session.commit()
            removed += len(orphans)
        except Exception as error:
            db.session.rollback()
            report.errors += 1
            click.echo(
                "Could not delete file instances: {0}".format(_error_text(error))
            )
    if rows:
        click.echo("Deleted {0} orphan file instances.".format(removed))


#
# gc: bytes no file instance uses
#
def _local_folder(uri):
    """Return the absolute path of a local storage URI, or None."""
    if not uri:
        return None
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    elif "://" in uri:
        return None
    return os.path.abspath(uri)


def _referenced_paths(roots):
    """Return the local paths file instances use, and their resolved form.

    URIs are compared as written, which is how the storage built them from
    the location. URIs outside every scanned folder (a location moved and
    reached through a symbolic link, say) are also kept resolved, so that
    bytes they reach through another path are never taken for garbage.
    """
    prefixes = tuple(os.path.join(root, "") for root in roots)
    referenced, resolved = set(), set()
    uris = db.session.execute(
        select(FileInstance.uri)
        .where(FileInstance.uri.isnot(None))
        .execution_options(yield_per=5000)
    ).scalars()
    for uri in uris:
        path = _local_folder(uri)
        if path is None:
            continue
        referenced.add(path)
        if not path.startswith(prefixes):
            resolved.add(os.path.realpath(path))
    db.session.rollback()
    return referenced, resolved


def _remove_dir(dirpath, report, cutoff):
    """Remove a directory if it is empty and may go; return if removed."""
    try:
        # A folder just made for an upload in progress is young and was not
        # emptied by this run: leave it alone.
        if dirpath not in report.emptied and os.stat(dirpath).st_mtime > cutoff:
            return False
        # rmdir refuses a folder that is not empty, whatever happened since
        # it was listed.
        os.rmdir(dirpath)
    except OSError:
        return False
    report.emptied.add(os.path.dirname(dirpath))
    return True


def _gc_location(name, root, known, dry_run, cutoff, report):
    referenced, resolved = known
    found = kept = deleted = dirs = 0
    found_bytes = kept_bytes = 0
    # Bottom-up, so that a folder is looked at after what it held.
    for dirpath, _, filenames in os.walk(root, topdown=False):
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            if path in referenced or path in report.seen:
                continue
            if os.path.realpath(path) in resolved:
                continue
            report.seen.add(path)
            try:
                stat = os.lstat(path)
            except OSError:
                continue
            if stat.st_mtime > cutoff:
                # Uploads write their bytes before their rows are committed.
                kept += 1
                kept_bytes += stat.st_size
                click.echo(
                    "Unreferenced bytes {0}: {1} bytes (recent, kept)".format(
                        path, stat.st_size
                    )
                )
                continue
            found += 1
            found_bytes += stat.st_size
            click.echo("Unreferenced bytes {0}: {1} bytes".format(path, stat.st_size))
            if dry_run:
                continue
            try:
                os.remove(path)
            except OSError as error:
                report.errors += 1
                click.echo("Could not delete {0}: {1}".format(path, error))
                continue
            deleted += 1
            report.emptied.add(dirpath)
        if not dry_run and dirpath != root and _remove_dir(dirpath, report, cutoff):
            dirs += 1
    click.echo(
        "Location {0!r} ({1}): {2} unreferenced files, {3} bytes; {4} recent "
        "files ({5} bytes) kept.".format(
            name, root, found, found_bytes, kept, kept_bytes
        )
    )
    report.found += found
    if not dry_run:
        click.echo(
            "Deleted {0} unreferenced files and {1} empty directories.".format(
                deleted, dirs
            )
        )


def _gc_bytes(dry_run, min_age, report):
    locations = db.session.execute(select(Location).order_by(Location.name)).scalars()
    folders = []
    for location in locations:
        root = _local_folder(location.uri)
        if root is None:
            click.echo(
                "Location {0!r} ({1}) is not a local folder: byte scan "
                "skipped.".format(location.name, location.uri)
            )
        elif not os.path.isdir(root):
            click.echo(
                "Location {0!r}: folder {1} does not exist, byte scan "
                "skipped.".format(location.name, root)
            )
        else:
            folders.append((location.name, root))
    if not folders:
        db.session.rollback()
        return
    # Read after the rows were cleaned up, so their bytes are not counted
    # twice, and before walking, so the walk holds no transaction open.
    known = _referenced_paths([root for _, root in folders])
    cutoff = time.time() - min_age
    for name, root in folders:
        _gc_location(name, root, known, dry_run, cutoff, report)


@records_files.command("gc")
@click.option(
    "--dry-run/--delete",
    "dry_run",
    default=True,
    show_default=True,
    help="Only report (the default), or delete what is reported.",
)
@click.option(
    "--min-age",
    type=DURATION,
    default="1h",
    show_default=True,
    help="Keep unreferenced bytes younger than this: uploads in progress "
    "write bytes before their rows are committed. 0 disables it.",
)
@click.pass_context
def gc(ctx, dry_run, min_age):
    """Find, and with --delete remove, what nothing uses any more.

    Three kinds of garbage are looked for: buckets linked to no record
    (removed with their objects and the bytes no other bucket uses), file
    instances no object version or multipart upload points to, and bytes in
    local storage folders that no file instance points to (left by aborted
    uploads; empty folders go with them).
    """
    report = _GcReport()
    _gc_buckets(dry_run, report)
    _gc_file_instances(dry_run, report)
    _gc_bytes(dry_run, min_age, report)
    if dry_run and report.found:
        click.echo("Dry run: nothing was deleted; run with --delete to remove it.")
    if report.errors:
        ctx.exit(1)


__all__ = (
    "DurationParamType",
    "RecordIdParamType",
    "attach",
    "gc",
    "list_files",
    "records_files",
    "verify",
)
