"""A record's buckets: its files and, when it has them, its media files.

Both are linked to the record in ``records_buckets``; the media files bucket
carries the bucket tag :data:`~invenio_records_files_ext.access.ownership.ROLE_TAG`
(``media``), which is how it is told apart even when the record's JSON is
emptied (a soft-deleted record). One query finds both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import Bucket, BucketTag
from sqlalchemy import Select, and_, bindparam, select

from ..access.ownership import MEDIA_ROLE, ROLE_TAG
from ..models import RecordsBuckets

FILES = "files"
"""Role of the bucket behind ``record.files``."""

MEDIA = "media"
"""Role of the bucket behind ``record.media_files``."""


@dataclass(frozen=True)
class LinkedBuckets:
    """The buckets linked to one record, by role."""

    files: Optional[Bucket]
    """The bucket of ``record.files`` (``None`` if the record has none)."""

    media: Optional[Bucket]
    """The bucket of ``record.media_files`` (``None`` if none)."""

    def all(self) -> list[tuple[str, Bucket]]:
        """Return ``(role, bucket)`` of the buckets the record has."""
        return [
            (role, bucket)
            for role, bucket in ((FILES, self.files), (MEDIA, self.media))
            if bucket is not None
        ]


def _pick(candidates: list[Bucket], wanted: Any) -> Optional[Bucket]:
    for bucket in candidates:
        if wanted and str(bucket.id) == str(wanted):
            return bucket
    return candidates[0] if candidates else None


@cache
def _linked_statement() -> Select[Any]:
    # Built once, its value bound when it runs: building the joins costs
    # about as much as running the query, on every record read.
    return (
        select(Bucket, BucketTag.value)
        .join(RecordsBuckets, RecordsBuckets.bucket_id == Bucket.id)
        .outerjoin(
            BucketTag,
            and_(BucketTag.bucket_id == Bucket.id, BucketTag.key == ROLE_TAG),
        )
        .where(RecordsBuckets.record_id == bindparam("record_id"))
    )


def linked_buckets(
    record_id: Any, wanted_files: Any = None, wanted_media: Any = None
) -> LinkedBuckets:
    """Return the record's buckets, in one query.

    :param wanted_files: the id the record's JSON names for its files
        (preferred when data from older code links several buckets).
    :param wanted_media: the id it names for its media files.
    """
    rows = db.session.execute(_linked_statement(), {"record_id": record_id}).all()
    files = [bucket for bucket, role in rows if role != MEDIA_ROLE]
    media = [bucket for bucket, role in rows if role == MEDIA_ROLE]
    return LinkedBuckets(_pick(files, wanted_files), _pick(media, wanted_media))


__all__ = ("FILES", "LinkedBuckets", "MEDIA", "linked_buckets")
