"""Which buckets belong to records: the owner tag.

A full Invenio site holds buckets of many modules, and only this package
links buckets in ``records_buckets``; "no link" therefore does not mean
"garbage". Every bucket this package links to a record carries a bucket tag
(:data:`OWNER_TAG`) that stays when the link goes, so that garbage
collection can tell this package's abandoned buckets from other modules'
buckets. Tags need no schema change and are removed with their bucket.
"""

from __future__ import annotations

from typing import Any, Optional

from invenio_db import db
from invenio_files_rest.models import Bucket, BucketTag
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

OWNER_TAG = "invenio-records-files-ext:owner"
"""Key of the bucket tag marking a bucket as a record's."""

OWNER_VALUE = "records"
"""Value of that tag."""

ROLE_TAG = "invenio-records-files-ext:role"
"""Key of the bucket tag naming what a record's second bucket is for."""

MEDIA_ROLE = "media"
"""Value of :data:`ROLE_TAG` on a record's media files bucket."""


def _session(session: Optional[Session]) -> Session:
    return session if session is not None else db.session()


def mark(bucket: Bucket, session: Optional[Session] = None) -> None:
    """Tag a bucket as a record's, unless it already is (added to the session)."""
    session = _session(session)
    if bucket.id is not None and session.get(BucketTag, (bucket.id, OWNER_TAG)):
        return
    session.add(BucketTag(bucket=bucket, key=OWNER_TAG, value=OWNER_VALUE))


def mark_id(bucket_id: Any, session: Optional[Session] = None) -> None:
    """Tag a bucket, given its id, as a record's (idempotent)."""
    session = _session(session)
    if session.get(BucketTag, (bucket_id, OWNER_TAG)) is None:
        session.add(BucketTag(bucket_id=bucket_id, key=OWNER_TAG, value=OWNER_VALUE))


def mark_media(bucket: Bucket, session: Optional[Session] = None) -> None:
    """Tag a bucket as a record's media files bucket (added to the session)."""
    session = _session(session)
    if bucket.id is not None and session.get(BucketTag, (bucket.id, ROLE_TAG)):
        return
    session.add(BucketTag(bucket=bucket, key=ROLE_TAG, value=MEDIA_ROLE))


def is_marked(bucket_id: Any) -> ColumnElement[bool]:
    """Return a condition true when the bucket (an id or column) is marked."""
    return exists(
        select(BucketTag.bucket_id).where(
            BucketTag.bucket_id == bucket_id, BucketTag.key == OWNER_TAG
        )
    )
