"""Making file instances the head versions of keys in a bucket.

Invenio-Files-REST's ``ObjectVersion.create`` opens a savepoint of its own
and, through relationship back-references, marks the file instance changed
(one more UPDATE). The records-files API already runs every change in a
savepoint, so these helpers do the same bookkeeping (retire the old head,
add the new version, count the bytes) without the extra statements.
"""

import uuid
from datetime import datetime, timezone

from invenio_db import db
from invenio_files_rest.models import ObjectVersion
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from .sql import chunks


def head_version_ids(bucket_id, keys):
    """Return the version ids of the current heads of ``keys``."""
    ids = []
    for chunk in chunks(keys):
        ids.extend(
            db.session.execute(
                select(ObjectVersion.version_id).where(
                    ObjectVersion.bucket_id == bucket_id,
                    ObjectVersion.key.in_(chunk),
                    ObjectVersion.is_head.is_(True),
                )
            ).scalars()
        )
    return ids


def retire_heads(version_ids):
    """Make these object versions non-current."""
    for chunk in chunks(version_ids):
        db.session.execute(
            update(ObjectVersion)
            .where(ObjectVersion.version_id.in_(chunk))
            .values(is_head=False, updated=datetime.now(tz=timezone.utc))
        )


def make_head(bucket, key, fileinstance):
    """Add a version of ``key`` holding ``fileinstance`` and make it current.

    The caller has checked that the bucket is writable and runs this in a
    savepoint.

    :returns: the new :class:`~invenio_files_rest.models.ObjectVersion`.
    """
    retire_heads(head_version_ids(bucket.id, [key]))
    obj = ObjectVersion(
        version_id=uuid.uuid4(),
        bucket_id=bucket.id,
        key=key,
        file_id=fileinstance.id,
        is_head=True,
    )
    # Link the objects for readers without emitting change events that
    # would rewrite the bucket's and the file instance's rows.
    set_committed_value(obj, "bucket", bucket)
    set_committed_value(obj, "file", fileinstance)
    db.session.add(obj)
    bucket.size += fileinstance.size
    return obj
