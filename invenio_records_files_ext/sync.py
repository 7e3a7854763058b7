"""Bring a record's ``_files`` in step with what its bucket holds.

The Python API updates ``_files`` itself. Object versions can also change
through code that knows nothing about records (Invenio-Files-REST's own
REST views, its multipart merge task, scripts). Before each commit,
:func:`reconcile` looks at the keys whose object versions were flushed in
the transaction and, for every record linked to their bucket, makes the
record's entries for those keys match the bucket's head versions: new keys
are appended, replaced keys keep their position and metadata, deleted keys
are dropped. Only the touched keys are read, so the cost does not grow with
the number of files in the record.
"""

from invenio_files_rest.models import FileInstance, ObjectVersion
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from .entries import FileEntries, file_fields
from .models import RecordsBuckets
from .sql import chunks


def head_versions(session, bucket_id, keys):
    """Return ``{key: (object version, file instance)}`` for existing heads."""
    heads = {}
    for chunk in chunks(keys):
        rows = session.execute(
            select(ObjectVersion, FileInstance)
            .join(FileInstance, ObjectVersion.file_id == FileInstance.id)
            .where(
                ObjectVersion.bucket_id == bucket_id,
                ObjectVersion.key.in_(chunk),
                ObjectVersion.is_head.is_(True),
            )
        )
        for obj, file in rows:
            heads[obj.key] = (obj, file)
    return heads


def apply_heads(entries, keys, heads):
    """Make ``entries`` agree with ``heads`` for ``keys``; return if changed."""
    changed = False
    for key in sorted(keys):
        entry = entries.get(key)
        head = heads.get(key)
        if head is None:
            if entry is not None:
                entries.remove(key)
                changed = True
            continue
        fields = file_fields(*head)
        if entry is None:
            entries.append(fields)
            changed = True
        elif entry.get("version_id") != fields["version_id"]:
            entry.update(fields)
            changed = True
    return changed


def _dirty_iterators_by_record(state):
    return {(files.record.id, files.bucket.id): files for files in state.dirty.values()}


def reconcile(session, state):
    """Reconcile records linked to buckets touched in this transaction."""
    touched, state.touched = state.touched, {}
    links = session.execute(
        select(RecordsBuckets.record_id, RecordsBuckets.bucket_id).where(
            RecordsBuckets.bucket_id.in_(list(touched))
        )
    ).all()
    if not links:
        return
    iterators = _dirty_iterators_by_record(state)
    for record_id, bucket_id in links:
        keys = touched[bucket_id]
        heads = head_versions(session, bucket_id, keys)
        files = iterators.get((record_id, bucket_id))
        if files is not None:
            if apply_heads(files.entries, keys, heads):
                files.entries.write_into(files.record)
            continue
        _reconcile_stored_record(session, record_id, keys, heads)


def _reconcile_stored_record(session, record_id, keys, heads):
    from invenio_records.models import RecordMetadata

    from .locks import lock_record_row

    model = session.get(RecordMetadata, record_id)
    if model is None or model.json is None:
        # Soft-deleted records keep their file state in the tombstone.
        return
    lock_record_row(model, refresh=True)
    if model.json is None:
        return
    entries = FileEntries.from_data(model.json)
    if apply_heads(entries, keys, heads):
        model.json = entries.merged_into(model.json)
        flag_modified(model, "json")
