"""Helpers: sorted files of a bucket, file factory, download view."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional

from flask import Response, abort, request
from invenio_db import db
from invenio_files_rest.models import Bucket, FileInstance, ObjectVersion
from invenio_files_rest.views import ObjectResource
from invenio_records.errors import MissingModelError
from sqlalchemy.orm import contains_eager


def sorted_files_from_bucket(
    bucket: Bucket, keys: Optional[Iterable[str]] = None
) -> list[ObjectVersion]:
    """Return the head object versions of a bucket, sorted by ``keys``.

    Files named in ``keys`` come first in that order, the others follow by
    key. One query, whatever the number of files.

    :param bucket: a :class:`~invenio_files_rest.models.Bucket`.
    :param keys: keys order to be used.
    :returns: sorted list of object versions.
    """
    objects = (
        db.session.query(ObjectVersion)
        .join(FileInstance, ObjectVersion.file_id == FileInstance.id)
        .options(contains_eager(ObjectVersion.file))
        .filter(
            ObjectVersion.bucket_id == bucket.id,
            ObjectVersion.is_head.is_(True),
        )
        .order_by(ObjectVersion.key)
        .all()
    )
    order = {key: position for position, key in enumerate(keys or [])}
    last = len(order)
    return sorted(objects, key=lambda obj: order.get(obj.key, last))


def record_file_factory(pid: Any, record: Any, filename: Optional[str]) -> Any:
    """Return the file ``filename`` of a record, or ``None``.

    :param pid: not used; kept for the signature Invenio modules expect.
    :param record: record which contains the files.
    :param filename: key of the file to return.
    :returns: a file object, or ``None`` if the record has no such file or
        no files at all.
    """
    try:
        files = getattr(record, "files", None)
    except MissingModelError:
        return None
    if files is None:
        return None
    try:
        return files[filename]
    except KeyError:
        return None


def file_download_ui(
    pid: Any,
    record: Any,
    _record_file_factory: Optional[Callable[[Any, Any, Optional[str]], Any]] = None,
    **kwargs: Any,
) -> Response:
    """File download view for a given record (Invenio-Records-UI).

    Plug it into ``RECORDS_UI_ENDPOINTS``::

        RECORDS_UI_ENDPOINTS = dict(
            recid_files=dict(
                pid_type="recid",
                route="/records/<pid_value>/files/<path:filename>",
                view_imp="invenio_records_files_ext.utils:file_download_ui",
                record_class="invenio_records_files_ext.api:Record",
            ),
        )

    With ``?download`` in the query string the file is sent as an
    attachment. Invenio-Files-REST's object read permission is checked and
    the stored checksum is sent as the expected one.

    :param pid: the :class:`~invenio_pidstore.models.PersistentIdentifier`.
    :param record: the record.
    """
    from .rest.objects import RecordObjectResource

    factory = _record_file_factory or record_file_factory
    fileobj = factory(pid, record, kwargs.get("filename"))
    if fileobj is None:
        abort(404)
    obj = fileobj.obj
    ObjectResource.check_object_permission(obj)
    return RecordObjectResource.send_object(
        obj.bucket,
        obj,
        expected_chksum=fileobj.get("checksum"),
        logger_data={
            "bucket_id": str(obj.bucket_id),
            "pid_type": pid.pid_type,
            "pid_value": pid.pid_value,
        },
        as_attachment="download" in request.args,
    )
