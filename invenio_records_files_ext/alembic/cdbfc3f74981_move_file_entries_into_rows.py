"""Move records' file entries out of their JSON into one row per file.

Creates ``records_files_entry`` and fills it from the ``_files`` list (and
``_default_preview``) that invenio-records-files, and this package before
1.0, kept in ``records_metadata.json``; the two keys are then removed from
the JSON. Records are read in small batches, so memory is bounded by the
largest record rather than by the database. Rows and JSON are written with
plain statements: no record revision is added and ``version_id`` is kept,
because what the record shows (``record["_files"]``) does not change.

This file is a frozen snapshot: it defines the tables it touches itself
and must not import the package's models, which will move on.
"""

import logging
import mimetypes
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy_utils.types import JSONType, UUIDType

# revision identifiers, used by Alembic.
revision = "cdbfc3f74981"
down_revision = "5e8a91d2c0f7"
branch_labels = ()
depends_on = (
    "07fb52561c5c",  # invenio-records: records_metadata.json as JSONB
    "8ae99b034410",  # invenio-files-rest: files_object keyed by version_id
)

log = logging.getLogger("alembic.runtime.migration")

FILES_KEY = "_files"
PREVIEW_KEY = "_default_preview"
FILE_FIELDS = frozenset(
    ("bucket", "checksum", "file_id", "key", "mimetype", "size", "version_id")
)
"""Entry fields describing the stored file; every other key is metadata."""

ID_SCAN = 1000
"""Record ids read per query while walking the table."""

BATCH_RECORDS = 200
BATCH_BYTES = 8 * 1024 * 1024
"""A batch of records loaded at once stops at either limit (stored size)."""

IN_LIST = 500
INSERT_ROWS = 1000

# Files-REST reports these compressions as the type of the whole file.
ENCODING_TYPES = {
    "gzip": "application/gzip",
    "compress": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}


def _json_type():
    return (
        sa.JSON()
        .with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
        .with_variant(JSONType(), "sqlite")
        .with_variant(JSONType(), "mysql")
    )


def _entry_columns():
    return [
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("bucket_id", UUIDType(), nullable=False),
        sa.Column(
            "key", sa.Text().with_variant(mysql.VARCHAR(255), "mysql"), nullable=False
        ),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("version_id", UUIDType(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("mimetype", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("preview", sa.Boolean(name="preview"), nullable=False),
        sa.Column("json", _json_type(), nullable=False),
    ]


_metadata = sa.MetaData()
records = sa.Table(
    "records_metadata",
    _metadata,
    sa.Column("id", UUIDType(), primary_key=True),
    sa.Column("json", _json_type()),
)
links = sa.Table(
    "records_buckets",
    _metadata,
    sa.Column("record_id", UUIDType(), primary_key=True),
    sa.Column("bucket_id", UUIDType(), primary_key=True),
)
objects = sa.Table(
    "files_object",
    _metadata,
    sa.Column("version_id", UUIDType(), primary_key=True),
    sa.Column("bucket_id", UUIDType()),
    sa.Column("key", sa.Text()),
    sa.Column("file_id", UUIDType()),
    sa.Column("_mimetype", sa.String(255)),
    sa.Column("is_head", sa.Boolean(name="is_head")),
)
file_instances = sa.Table(
    "files_files",
    _metadata,
    sa.Column("id", UUIDType(), primary_key=True),
    sa.Column("size", sa.BigInteger()),
    sa.Column("checksum", sa.String(255)),
)
entries = sa.Table("records_files_entry", _metadata, *_entry_columns())


def _chunks(values, size=IN_LIST):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _now():
    return datetime.now(tz=timezone.utc)


def _effective_mimetype(key, stored):
    # What Files-REST's ObjectVersion.mimetype answers.
    if stored:
        return stored
    guessed, encoding = mimetypes.guess_type(key)
    if encoding:
        guessed = ENCODING_TYPES.get(encoding)
    return guessed or "application/octet-stream"


def _as_uuid(value):
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


#
# Walking the records
#
def _record_batches(bind):
    """Yield lists of record ids, each light enough to load at once."""
    if bind.dialect.name == "postgresql":
        stored_size = sa.func.pg_column_size(records.c.json)
    else:
        stored_size = sa.func.length(records.c.json)
    after = None
    while True:
        query = sa.select(records.c.id, stored_size).order_by(records.c.id)
        if after is not None:
            query = query.where(records.c.id > after)
        found = bind.execute(query.limit(ID_SCAN)).all()
        if not found:
            return
        after = found[-1][0]
        batch, budget = [], 0
        for record_id, size in found:
            size = size or 0
            if batch and (len(batch) >= BATCH_RECORDS or budget + size > BATCH_BYTES):
                yield batch
                batch, budget = [], 0
            batch.append(record_id)
            budget += size
        if batch:
            yield batch


def _load(bind, record_ids):
    """Return ``{record id: json}`` and ``{record id: [bucket ids]}``."""
    data = dict(
        bind.execute(
            sa.select(records.c.id, records.c.json).where(records.c.id.in_(record_ids))
        ).all()
    )
    linked = {}
    for record_id, bucket_id in bind.execute(
        sa.select(links.c.record_id, links.c.bucket_id).where(
            links.c.record_id.in_(record_ids)
        )
    ):
        linked.setdefault(record_id, []).append(bucket_id)
    return data, linked


def _pick_bucket(data, bucket_ids):
    """Return the record's bucket: the linked one ``_bucket`` names, if any."""
    if not bucket_ids:
        return None
    named = _as_uuid(data.get("_bucket")) if isinstance(data, dict) else None
    if named in bucket_ids:
        return named
    return sorted(bucket_ids, key=str)[0]


def _shared_buckets(bind):
    """Return the buckets linked to more than one record (rare)."""
    return set(
        bind.execute(
            sa.select(links.c.bucket_id)
            .group_by(links.c.bucket_id)
            .having(sa.func.count() > 1)
        ).scalars()
    )


def _has_rows(bind, bucket_id):
    return (
        bind.execute(
            sa.select(entries.c.id).where(entries.c.bucket_id == bucket_id).limit(1)
        ).first()
        is not None
    )


#
# Upgrade
#
def _heads(bind, bucket_id):
    """Return ``{key: (version id, size, mimetype)}`` of current files."""
    rows = bind.execute(
        sa.select(
            objects.c.key,
            objects.c.version_id,
            objects.c._mimetype,
            file_instances.c.size,
        )
        .select_from(objects)
        .join(file_instances, file_instances.c.id == objects.c.file_id)
        .where(objects.c.bucket_id == bucket_id, objects.c.is_head.is_(True))
    )
    return {
        key: (version_id, size, _effective_mimetype(key, stored))
        for key, version_id, stored, size in rows
    }


def _named_versions(bind, bucket_id, version_ids):
    """Return ``{version id: (key, size, mimetype)}`` of existing file versions."""
    found = {}
    for chunk in _chunks(version_ids):
        rows = bind.execute(
            sa.select(
                objects.c.version_id,
                objects.c.key,
                objects.c._mimetype,
                file_instances.c.size,
            )
            .select_from(objects)
            .join(file_instances, file_instances.c.id == objects.c.file_id)
            .where(objects.c.bucket_id == bucket_id, objects.c.version_id.in_(chunk))
        )
        for version_id, key, stored, size in rows:
            found[version_id] = (key, size, _effective_mimetype(key, stored))
    return found


def _row(bucket_id, key, position, version, metadata, preview, now):
    version_id, size, mimetype = version
    return dict(
        created=now,
        updated=now,
        id=uuid.uuid4(),
        bucket_id=bucket_id,
        key=key,
        position=position,
        version_id=version_id,
        size=size,
        mimetype=mimetype,
        status="completed",
        preview=preview,
        json=metadata,
    )


def _listed_entries(record_id, listed):
    """Return ``[(key, entry)]`` of usable entries; report the others."""
    if listed is None:
        return []
    if not isinstance(listed, list):
        log.warning("Record %s: %s is not a list: ignored.", record_id, FILES_KEY)
        return []
    usable, seen = [], set()
    for entry in listed:
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str) or not key:
            log.warning(
                "Record %s: file entry without a key dropped: %r", record_id, entry
            )
        elif key in seen:
            log.warning("Record %s: second entry for key %r dropped.", record_id, key)
        else:
            seen.add(key)
            usable.append((key, entry))
    return usable


def _rows_for(bind, record_id, data, bucket_id):
    """Yield the rows of a record's files, in its order."""
    heads = _heads(bind, bucket_id)
    listed = _listed_entries(record_id, data.get(FILES_KEY))
    preview = data.get(PREVIEW_KEY)
    wanted = {
        _as_uuid(entry.get("version_id")) for key, entry in listed if key not in heads
    }
    wanted.discard(None)
    named = _named_versions(bind, bucket_id, wanted) if wanted else {}

    now, seen, position = _now(), set(), 0
    for key, entry in listed:
        version = heads.get(key)
        if version is None:
            version_id = _as_uuid(entry.get("version_id"))
            older = named.get(version_id)
            if older is None or older[0] != key:
                log.warning(
                    "Record %s: entry %r names no existing file in bucket %s: dropped.",
                    record_id,
                    key,
                    bucket_id,
                )
                continue
            version = (version_id, older[1], older[2])
        metadata = {
            name: value for name, value in entry.items() if name not in FILE_FIELDS
        }
        seen.add(key)
        position += 1
        yield _row(bucket_id, key, position, version, metadata, key == preview, now)
    # Files of the bucket the list forgot come last, as a repair adds them.
    for key in sorted(set(heads) - seen):
        position += 1
        yield _row(bucket_id, key, position, heads[key], {}, False, now)
    if preview is not None and preview not in seen:
        log.warning(
            "Record %s: default preview %r is not one of its files: dropped.",
            record_id,
            preview,
        )


def _tombstone_rows(bind, bucket_id):
    """Rows of a soft-deleted record (its JSON is gone): heads in key order."""
    now = _now()
    heads = _heads(bind, bucket_id)
    return [
        _row(bucket_id, key, position, heads[key], {}, False, now)
        for position, key in enumerate(sorted(heads), start=1)
    ]


class _Rows:
    """Rows waiting to be inserted, across records: few, large statements."""

    def __init__(self, bind):
        self.bind = bind
        self.pending = []

    def add(self, rows):
        for row in rows:
            self.pending.append(row)
            if len(self.pending) >= INSERT_ROWS:
                self.flush()

    def flush(self):
        if self.pending:
            self.bind.execute(entries.insert(), self.pending)
            self.pending = []


def _write_json(bind, changed):
    if not changed:
        return
    statement = (
        records.update()
        .where(records.c.id == sa.bindparam("record_id"))
        .values(json=sa.bindparam("record_json"))
    )
    bind.execute(
        statement,
        [dict(record_id=rid, record_json=data) for rid, data in changed.items()],
    )


def _without_file_keys(data):
    return {
        key: value for key, value in data.items() if key not in (FILES_KEY, PREVIEW_KEY)
    }


def _move_record(bind, out, record_id, data, bucket_id, shared):
    """Queue one record's rows; return its new JSON, or None if unchanged."""
    if bucket_id is not None and bucket_id in shared:
        out.flush()
    if bucket_id is not None and bucket_id in shared and _has_rows(bind, bucket_id):
        log.warning(
            "Record %s: bucket %s is shared with a record migrated before; its "
            "rows are kept.",
            record_id,
            bucket_id,
        )
        bucket_id = None
    if data is None:
        if bucket_id is not None:
            out.add(_tombstone_rows(bind, bucket_id))
        return None
    if not isinstance(data, dict):
        return None
    if bucket_id is not None:
        out.add(_rows_for(bind, record_id, data, bucket_id))
    elif data.get(FILES_KEY):
        log.warning(
            "Record %s has no linked bucket: its %s entries are dropped.",
            record_id,
            FILES_KEY,
        )
    if FILES_KEY in data or PREVIEW_KEY in data:
        return _without_file_keys(data)
    return None


def _create_table():
    op.create_table(
        "records_files_entry",
        *_entry_columns(),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["files_bucket.id"],
            name=op.f("fk_records_files_entry_bucket_id_files_bucket"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["files_object.version_id"],
            name=op.f("fk_records_files_entry_version_id_files_object"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_files_entry")),
        sa.UniqueConstraint(
            "bucket_id", "key", name=op.f("uq_records_files_entry_bucket_id")
        ),
    )
    op.create_index(
        "ix_records_files_entry_order",
        "records_files_entry",
        ["bucket_id", "position", "key"],
        unique=False,
    )
    op.create_index(
        op.f("ix_records_files_entry_version_id"),
        "records_files_entry",
        ["version_id"],
        unique=False,
    )


def upgrade():
    """Upgrade database."""
    _create_table()
    bind = op.get_bind()
    shared = _shared_buckets(bind)
    out = _Rows(bind)
    moved = 0
    for batch in _record_batches(bind):
        data, linked = _load(bind, batch)
        changed = {}
        for record_id in batch:
            record_data = data.get(record_id)
            bucket_id = _pick_bucket(record_data, linked.get(record_id))
            new = _move_record(bind, out, record_id, record_data, bucket_id, shared)
            if new is not None:
                changed[record_id] = new
        _write_json(bind, changed)
        moved += len(batch)
    out.flush()
    log.info("Moved the file entries of %d records into records_files_entry.", moved)


#
# Downgrade
#
def _entries_of(bind, bucket_id):
    """Return the bucket's entries in the original layout, and the preview key."""
    rows = bind.execute(
        sa.select(
            entries.c.key,
            entries.c.version_id,
            entries.c.mimetype,
            entries.c.preview,
            entries.c.json,
            objects.c.file_id,
            file_instances.c.size,
            file_instances.c.checksum,
        )
        .select_from(entries)
        .join(objects, objects.c.version_id == entries.c.version_id)
        .join(file_instances, file_instances.c.id == objects.c.file_id)
        .where(entries.c.bucket_id == bucket_id, entries.c.status == "completed")
        .order_by(entries.c.position, entries.c.key)
    )
    listed, preview = [], None
    for row in rows:
        entry = dict(row.json or {})
        entry.update(
            bucket=str(bucket_id),
            checksum=row.checksum,
            file_id=str(row.file_id),
            key=row.key,
            mimetype=row.mimetype,
            size=row.size,
            version_id=str(row.version_id),
        )
        listed.append(entry)
        if row.preview:
            preview = row.key
    return listed, preview


def downgrade():
    """Downgrade database."""
    bind = op.get_bind()
    for batch in _record_batches(bind):
        data, linked = _load(bind, batch)
        changed = {}
        for record_id in batch:
            record_data = data.get(record_id)
            bucket_id = _pick_bucket(record_data, linked.get(record_id))
            if not isinstance(record_data, dict) or bucket_id is None:
                continue
            listed, preview = _entries_of(bind, bucket_id)
            if not listed:
                continue
            new = _without_file_keys(record_data)
            new[FILES_KEY] = listed
            if preview is not None:
                new[PREVIEW_KEY] = preview
            changed[record_id] = new
        _write_json(bind, changed)
    op.drop_index(
        op.f("ix_records_files_entry_version_id"), table_name="records_files_entry"
    )
    op.drop_index("ix_records_files_entry_order", table_name="records_files_entry")
    op.drop_table("records_files_entry")
