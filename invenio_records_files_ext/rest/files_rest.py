"""Invenio-Files-REST's own routes, for buckets that belong to a record.

Invenio-Files-REST serves every bucket at ``/files/<bucket_id>``, and
anyone who may read a record can learn its bucket's id. Left alone, those
routes would apply only ``FILES_REST_PERMISSION_FACTORY`` and write without
the record's locks, quota checks, file rows and hooks.

:func:`install` wraps the application's bucket and object views of
Invenio-Files-REST: a request for a bucket linked to a record is served by
the record's files views
(:class:`~invenio_records_files_ext.rest.listing.RecordBucketResource`,
:class:`~invenio_records_files_ext.rest.objects.RecordObjectResource`), so the
record's permissions decide and every write takes the library's one code
path. Requests for other buckets go to Invenio-Files-REST as before.

A record may, from older data, own buckets besides the one its files use:
those are readable with the record's read permission and refuse writes.
"""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, Optional

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException

from ..access import decisions as access
from ..errors import PermissionDeniedError, RecordsFilesError
from ..files import owners as linked
from ..files.buckets import FILES, MEDIA
from ..serializer import BLUEPRINT_NAME, json_serializer
from .errors import answer_error
from .listing import RecordBucketResource
from .objects import RecordObjectResource

GUARDED_VIEWS = {
    "invenio_files_rest.bucket_api": RecordBucketResource,
    "invenio_files_rest.object_api": RecordObjectResource,
}
"""Invenio-Files-REST's endpoints, and the record views serving linked buckets."""


def _view_prefix(link: linked.LinkedBucket) -> Optional[str]:
    """Prefix of the record's routes to link to, if it has them."""
    endpoint = link.endpoint
    if endpoint is None or not endpoint.files_routes:
        return None
    if link.role != MEDIA:
        return endpoint.name
    prefix = endpoint.name + "_media"
    view = "{0}.{1}_bucket_api".format(BLUEPRINT_NAME, prefix)
    return prefix if view in current_app.view_functions else None


def serve_linked(resource: type, link: linked.LinkedBucket, **kwargs: Any) -> Any:
    """Serve a request for a linked bucket with the record's files view."""
    endpoint = link.endpoint
    prefix = _view_prefix(link)
    view = resource(
        serializers={"application/json": json_serializer},
        endpoint=endpoint.name if prefix and endpoint is not None else None,
        endpoint_options=endpoint.options if endpoint else {},
        role=link.role or FILES,
        view_prefix=prefix,
    )
    return view.serve(endpoint.pid if endpoint else None, link.record, **kwargs)


def _serve_other_bucket(
    original: Callable[..., Any],
    link: linked.LinkedBucket,
    on_object: bool,
    **kwargs: Any,
) -> Any:
    action = access.request_action(request.method, request.args, on_object)
    endpoint = link.endpoint
    access.decide(link.record, action, endpoint.options if endpoint else None).check()
    if action == access.UPDATE:
        raise PermissionDeniedError(
            "This bucket is not the one the record's files use; it is read-only."
        )
    return original(bucket_id=str(link.bucket_id), **kwargs)


def _guard(original: Callable[..., Any], resource: type) -> Callable[..., Any]:
    @wraps(original)
    def view(bucket_id: Any = None, **kwargs: Any) -> Any:
        link = linked.find(bucket_id)
        if link is None:
            return original(bucket_id=bucket_id, **kwargs)
        try:
            if link.record.model is not None and not link.record.model.is_deleted:
                if not link.is_files_bucket:
                    return _serve_other_bucket(
                        original, link, resource is RecordObjectResource, **kwargs
                    )
            return serve_linked(resource, link, **kwargs)
        except (RecordsFilesError, HTTPException) as error:
            return answer_error(error)

    view.records_files_guard = True  # type: ignore[attr-defined]  # a marker on the function
    return view


def install(app: Flask) -> bool:
    """Guard Invenio-Files-REST's bucket and object views of ``app`` (idempotent).

    :returns: whether both views were found (they are registered with
        Invenio-Files-REST's blueprint, usually after the extensions).
    """
    found = 0
    for endpoint, resource in GUARDED_VIEWS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        found += 1
        if not getattr(view, "records_files_guard", False):
            app.view_functions[endpoint] = _guard(view, resource)
    return found == len(GUARDED_VIEWS)


__all__ = ("GUARDED_VIEWS", "install", "serve_linked")
