"""Tables: the record-bucket link and the bucket's file entries.

``RecordsBuckets`` is a join table: one row says "this bucket belongs to
this record". Its name and columns are those of ``invenio_records_files``,
so an existing database keeps working unchanged. The link, not the record's
JSON, decides which bucket a record's files use.

``FileEntry`` holds one row per file of a linked bucket: the key, its place
in the record's order, the object version it names, the per-file metadata
and a status. A change to one file writes one row, however many files the
record holds; the record's own JSON is not rewritten.

``FileTransfer`` holds the state of a file announced but not completed yet
(a *pending* entry): how its bytes come (transfer type), what the client
announced, the bytes received so far and, for fetched files, how the
fetch went. It goes when the file is completed or abandoned.

``FileChecksum`` holds the checksums of a file instance other than its
MD5, which stays in Files-REST's ``FileInstance.checksum``: one row per
algorithm (``RECORDS_FILES_CHECKSUMS``). Read and write them through
:mod:`invenio_records_files_ext.storage.checksums` only.
"""

from __future__ import annotations

import uuid
from typing import Any

from invenio_db import db
from invenio_files_rest.models import Bucket, FileInstance, ObjectVersion
from invenio_records.models import RecordMetadata
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy_utils.types import JSONType, UUIDType

from .access import ownership

COMPLETED = "completed"
"""Status of a file whose bytes are in place."""

PENDING = "pending"
"""Status of a file announced but not yet completed."""

MAX_SIZE = 2**63 - 1
"""The largest number of bytes a size column (``BIGINT``) holds: the bound of
an announced size, and of a bucket's size."""

REMOTE_STORAGE_CLASS = "R"
"""Storage class of a remote file's instance: its URI is the file's URL and
no bytes are stored (a download redirects there)."""


class RecordsBuckets(db.Model):  # type: ignore[misc]  # Invenio-DB is untyped
    """Relationship between records and buckets."""

    __tablename__ = "records_buckets"

    record_id = db.Column(
        UUIDType,
        db.ForeignKey(RecordMetadata.id),
        primary_key=True,
        nullable=False,
    )
    """Record related with the bucket."""

    bucket_id = db.Column(
        UUIDType,
        db.ForeignKey(Bucket.id),
        primary_key=True,
        nullable=False,
        index=True,
    )
    """Bucket related with the record."""

    bucket = db.relationship(Bucket)
    """Relationship to the bucket."""

    record = db.relationship(RecordMetadata)
    """Relationship to the record's metadata row."""

    @classmethod
    def create(cls, record: Any, bucket: Bucket) -> RecordsBuckets:
        """Create a new ``RecordsBuckets`` row and add it to the session.

        :param record: the record (or its model) to link; it need not be
            flushed yet.
        :param bucket: the :class:`~invenio_files_rest.models.Bucket` to link.
        :returns: the :class:`RecordsBuckets` object created.
        """
        model = getattr(record, "model", None) or record
        with db.session.begin_nested():
            link = cls(record_id=model.id, bucket_id=bucket.id)
            if isinstance(model, RecordMetadata):
                link.record = model
            link.bucket = bucket
            db.session.add(link)
            ownership.mark(bucket)
        return link


JSON_TYPE = (
    db.JSON()
    .with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
    .with_variant(JSONType(), "sqlite")
    .with_variant(JSONType(), "mysql")
)


class FileEntry(db.Model, db.Timestamp):  # type: ignore[misc]  # Invenio-DB is untyped
    """One file of a bucket linked to a record.

    Rows are written by :mod:`invenio_records_files_ext.files.rows` only;
    read them through :mod:`invenio_records_files_ext.files.queries`.
    """

    __tablename__ = "records_files_entry"
    __table_args__ = (
        db.UniqueConstraint("bucket_id", "key"),
        db.Index("ix_records_files_entry_order", "bucket_id", "position", "key"),
    )

    id = db.Column(UUIDType, primary_key=True, default=uuid.uuid4)
    """Identifier of the entry; it survives renames."""

    bucket_id = db.Column(
        UUIDType,
        db.ForeignKey(Bucket.id, ondelete="CASCADE"),
        nullable=False,
    )
    """Bucket holding the file."""

    key = db.Column(db.Text().with_variant(mysql.VARCHAR(255), "mysql"), nullable=False)
    """Key of the file, unique in its bucket."""

    position = db.Column(db.BigInteger, nullable=False)
    """Place in the record's order (ties are broken by key)."""

    version_id = db.Column(
        UUIDType,
        db.ForeignKey(ObjectVersion.version_id, ondelete="SET NULL"),
        nullable=True,
        index=True,
    )
    """Object version holding the bytes (``None`` while pending)."""

    size = db.Column(db.BigInteger, nullable=True)
    """Size in bytes of the file (copied from its file instance)."""

    mimetype = db.Column(db.String(255), nullable=True)
    """MIME type of the file (copied from its object version)."""

    status = db.Column(db.String(16), nullable=False, default=COMPLETED)
    """``completed`` or ``pending``."""

    preview = db.Column(db.Boolean(name="preview"), nullable=False, default=False)
    """Whether this is the record's default preview."""

    json = db.Column(JSON_TYPE, nullable=False, default=dict)
    """Per-file metadata set by users."""


class FileTransfer(db.Model, db.Timestamp):  # type: ignore[misc]  # Invenio-DB is untyped
    """How the bytes of a pending file come, and how far they got.

    One row per pending :class:`FileEntry` (deleted with it). Rows are
    written by :mod:`invenio_records_files_ext.files.pending_rows` only.
    """

    __tablename__ = "records_files_transfer"
    __table_args__ = (db.Index("ix_records_files_transfer_updated", "updated"),)

    entry_id = db.Column(
        UUIDType,
        db.ForeignKey(FileEntry.id, ondelete="CASCADE"),
        primary_key=True,
    )
    """The pending file."""

    type = db.Column(db.String(1), nullable=False)
    """Transfer type: ``L`` (local), ``F`` (fetch) or ``M`` (multipart)."""

    state = db.Column(db.String(16), nullable=False)
    """Where the transfer is (see :mod:`invenio_records_files_ext.transfers`)."""

    file_id = db.Column(
        UUIDType, db.ForeignKey(FileInstance.id), nullable=True, index=True
    )
    """File instance receiving the bytes, once there is one."""

    size = db.Column(db.BigInteger, nullable=True)
    """Size announced by the client."""

    checksum = db.Column(db.String(255), nullable=True)
    """Checksum announced by the client (``md5:<hex>``)."""

    reserved = db.Column(db.BigInteger, nullable=False, default=0)
    """Bytes the bucket's size counts for this upload (its quota share)."""

    error = db.Column(db.Text, nullable=True)
    """Why the transfer failed."""

    json = db.Column(JSON_TYPE, nullable=False, default=dict)
    """Details of the transfer type (source URL, parts...)."""


class FileChecksum(db.Model):  # type: ignore[misc]  # Invenio-DB is untyped
    """One checksum of a file instance's bytes, other than its MD5.

    The rows go with their file instance (``ON DELETE CASCADE``). A new
    file instance's rows are added to the session with it: they hang on
    ``FileInstance.checksum_rows`` (see
    :func:`~invenio_records_files_ext.storage.checksums.save_checksums`).
    """

    __tablename__ = "records_files_checksums"

    file_id = db.Column(
        UUIDType,
        db.ForeignKey(FileInstance.id, ondelete="CASCADE"),
        primary_key=True,
    )
    """The file instance whose bytes were hashed."""

    algorithm = db.Column(db.String(16), primary_key=True)
    """The ``hashlib`` name of the algorithm (``sha256``...)."""

    value = db.Column(db.String(255), nullable=False)
    """The hex digest."""

    file = db.relationship(
        FileInstance,
        backref=db.backref(
            "checksum_rows",
            cascade="all, delete-orphan",
            passive_deletes=True,
            lazy="select",
        ),
    )
    """The file instance; its ``checksum_rows`` are these rows."""


OBJECT_KEY_INDEX = db.Index(
    "ix_records_files_object_bucket_key", ObjectVersion.bucket_id, ObjectVersion.key
)
"""Index of Invenio-Files-REST's object versions by bucket and key.

Its own indexes lead with ``bucket_id`` and ``version_id``, so finding the
current version of one key read every version of the bucket: the cost of
one upload grew with the number of files. With this index it is constant.
"""


FIXITY_LINK_INDEX = db.Index("ix_records_files_object_file_id", ObjectVersion.file_id)
"""Index of Invenio-Files-REST's object versions by file instance.

The fixity audit asks, for each candidate file instance, whether a record's
bucket holds it: without this index every claim read all object versions.
"""

FIXITY_DUE_INDEX = db.Index(
    "ix_records_files_files_last_seen",
    db.func.coalesce(FileInstance.last_check_at, FileInstance.created),
    FileInstance.id,
).ddl_if(dialect="postgresql")
"""Index of Invenio-Files-REST's file instances by when they were last read back.

The fixity audit claims the longest unchecked files first
(:func:`~invenio_records_files_ext.maintenance.fixity.last_seen`): with
this index a claim reads about a batch of rows, not the whole table.
PostgreSQL only (an expression index, which SQLAlchemy cannot reflect on
SQLite; a SQLite database is not the one for a million files).
"""


__all__ = (
    "COMPLETED",
    "FIXITY_DUE_INDEX",
    "FIXITY_LINK_INDEX",
    "FileChecksum",
    "FileEntry",
    "FileTransfer",
    "OBJECT_KEY_INDEX",
    "PENDING",
    "REMOTE_STORAGE_CLASS",
    "RecordsBuckets",
)
