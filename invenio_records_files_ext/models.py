"""The link between records and buckets.

``RecordsBuckets`` is a join table: one row says "this bucket belongs to
this record". The table name and columns are those of
``invenio_records_files``, so an existing database keeps working unchanged.
The link, not the record's JSON, decides which bucket a record's file
routes use.
"""

from invenio_db import db
from invenio_files_rest.models import Bucket
from invenio_records.models import RecordMetadata
from sqlalchemy_utils.types import UUIDType


class RecordsBuckets(db.Model):
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
    def create(cls, record, bucket):
        """Create a new ``RecordsBuckets`` row and add it to the session.

        :param record: the record (or its model) to link.
        :param bucket: the :class:`~invenio_files_rest.models.Bucket` to link.
        :returns: the :class:`RecordsBuckets` object created.
        """
        with db.session.begin_nested():
            link = cls(record_id=record.id, bucket_id=bucket.id)
            db.session.add(link)
        return link


__all__ = ("RecordsBuckets",)
