"""JSON serialization for the files routes, with links to the record's routes.

Invenio-Files-REST's schemas link to its own ``/files/<bucket_id>`` routes.
Under a record those links must point to ``<item_route>/<suffix>`` built
from the PID *value* (a string), which the views put in the serializer
context as ``pid_value`` and ``endpoint``. Without them (a record whose
endpoint has no files routes) the links stay on Invenio-Files-REST's
routes. Links start with the site's ``SITE_API_URL`` when it is set
(:func:`~invenio_records_files_ext.rest.urls.api_url`).
"""

from __future__ import annotations

import json
from typing import Any, Optional, cast
from urllib.parse import urlencode

from flask import Response, current_app, request
from invenio_files_rest import serializer as files_rest
from invenio_files_rest.models import Bucket, MultipartObject, ObjectVersion, Part
from marshmallow import fields, post_dump
from marshmallow_utils.context import context_schema

from .rest.url_templates import KeyURL, key_url
from .rest.urls import api_url
from .storage.checksums import file_checksums
from .transfers.parts import PartLayout

BLUEPRINT_NAME = "invenio_records_files"

_FILES_REST_VIEWS = {
    "bucket_api": "invenio_files_rest.bucket_api",
    "object_api": "invenio_files_rest.object_api",
}


def files_url(
    view: str,
    bucket_id: Any,
    endpoint: Optional[str] = None,
    pid_value: Optional[str] = None,
    **values: Any,
) -> str:
    """Return the URL of a bucket (``view="bucket_api"``) or file (``"object_api"``).

    Under the record's files route of ``endpoint`` when it and
    ``pid_value`` are given, else under Invenio-Files-REST's route.
    """
    if endpoint and pid_value is not None:
        return api_url(
            "{0}.{1}_{2}".format(BLUEPRINT_NAME, endpoint, view),
            pid_value=pid_value,
            **values,
        )
    return api_url(_FILES_REST_VIEWS[view], bucket_id=str(bucket_id), **values)


def object_urls(
    bucket_id: Any, endpoint: Optional[str] = None, pid_value: Optional[str] = None
) -> Optional[KeyURL]:
    """Return the URLs of a bucket's files, one per key (see :func:`files_url`).

    Built once per request (:func:`~invenio_records_files_ext.rest.url_templates.key_url`);
    ``None`` when the route cannot be built.
    """
    if endpoint and pid_value is not None:
        return key_url(
            "{0}.{1}_object_api".format(BLUEPRINT_NAME, endpoint), pid_value=pid_value
        )
    return key_url(_FILES_REST_VIEWS["object_api"], bucket_id=str(bucket_id))


def with_query(url: str, **values: Any) -> str:
    """Return ``url`` with ``values`` as its query string, as ``url_for`` writes it."""
    if not values:
        return url
    return (
        url
        + "?"
        + urlencode(
            [(name, str(value)) for name, value in values.items()], safe="!$'()*,/:;?@"
        )
    )


def _object_url(bucket_id: Any, key: str, **query: Any) -> str:
    context = context_schema.get()
    urls = object_urls(bucket_id, context.get("endpoint"), context.get("pid_value"))
    if urls is None:
        return _url("object_api", bucket_id, key=key, **query)
    return with_query(urls(key), **query)


def _url(view: str, bucket_id: Any, **values: Any) -> str:
    context = context_schema.get()
    return files_url(
        view, bucket_id, context.get("endpoint"), context.get("pid_value"), **values
    )


class BucketSchema(files_rest.BucketSchema):  # type: ignore[misc]  # Files-REST is untyped
    """Bucket of a record, linked through the record's files route."""

    def dump_links(self, o: Any) -> dict[str, str]:
        """Dump links."""
        url = _url("bucket_api", o.id)
        return {"self": url, "versions": url + "?versions", "uploads": url + "?uploads"}


class ObjectVersionSchema(files_rest.ObjectVersionSchema):  # type: ignore[misc]  # Files-REST is untyped
    """Object version of a record's file, with all its ``checksums``."""

    checksums = fields.Method("dump_checksums", dump_only=True)

    def dump_checksums(self, o: Any) -> Optional[dict[str, str]]:
        """Dump every stored checksum: ``{"md5": ..., "sha256": ...}``.

        A listing puts those of its page in the context (``checksums``:
        file id -> checksums), read in one query.
        """
        if o.file is None:
            return None
        return file_checksums(o.file, context_schema.get().get("checksums"))

    def dump_links(self, o: Any) -> dict[str, str]:
        """Dump links."""
        version = {"versionId": o.version_id}
        current = o.is_head and not o.deleted
        links = {
            "self": _object_url(o.bucket_id, o.key, **({} if current else version)),
            "version": _object_url(o.bucket_id, o.key, **version),
        }
        if current:
            links["uploads"] = _object_url(o.bucket_id, o.key) + "?uploads"
        return links

    @post_dump(pass_many=True)
    def wrap(self, data: Any, many: bool) -> Any:
        """Wrap a list in an envelope describing the bucket."""
        if not many:
            return data
        data = {"contents": data}
        context = context_schema.get()
        bucket = context.get("bucket")
        if bucket:
            data.update(BucketSchema().dump(bucket))
        if context.get("page_links"):
            data.setdefault("links", {}).update(context["page_links"])
        # InvenioRDM's shape beside Files-REST's (see rest/transfers.py).
        data.update(context.get("listing_extra") or {})
        return data


class MultipartObjectSchema(files_rest.MultipartObjectSchema):  # type: ignore[misc]  # Files-REST is untyped
    """Multipart upload to a record's bucket."""

    # Files-REST says 0 when the size is a multiple of the part size; the
    # last part is then a whole one (issue 18, finding 9).
    last_part_size = fields.Method("dump_last_part_size", dump_only=True)

    def dump_last_part_size(self, o: Any) -> int:
        """Dump the length of the last part (never 0 for a non-empty upload)."""
        layout = PartLayout.of(int(o.size), int(o.chunk_size))
        return layout.length(layout.parts)

    def dump_links(self, o: Any) -> dict[str, str]:
        """Dump links."""
        context = context_schema.get()
        links = {
            "self": _object_url(o.bucket_id, o.key, uploadId=o.upload_id),
            "object": _object_url(o.bucket_id, o.key),
        }
        if context.get("object_version_id"):
            links["object_version"] = _object_url(
                o.bucket_id, o.key, versionId=context["object_version_id"]
            )
        if context.get("bucket"):
            links["bucket"] = _url("bucket_api", o.bucket_id)
        return links


class PartSchema(files_rest.PartSchema):  # type: ignore[misc]  # Files-REST is untyped
    """Part of a multipart upload."""

    @post_dump(pass_many=True)
    def wrap(self, data: Any, many: bool) -> Any:
        """Wrap a list in an envelope describing the multipart upload."""
        if not many:
            return data
        data = {"parts": data}
        multipart = context_schema.get().get("multipart")
        if multipart:
            data.update(MultipartObjectSchema().dump(multipart))
        return data


serializer_mapping = {
    Bucket: BucketSchema,
    ObjectVersion: ObjectVersionSchema,
    MultipartObject: MultipartObjectSchema,
    Part: PartSchema,
}
"""Models to the schemas used under record routes."""

BODY = "body"
"""Context key of a body already built as JSON data (no schema applies)."""


def json_serializer(
    data: Any = None,
    code: int = 200,
    headers: Any = None,
    context: Optional[dict[str, Any]] = None,
    etag: Optional[str] = None,
    task_result: Any = None,
    **kwargs: Any,
) -> Response:
    """Invenio-Files-REST's JSON serializer with this module's schemas.

    With ``context={"body": True}``, ``data`` is the body itself (dicts and
    lists, such as a listing page built by
    :mod:`invenio_records_files_ext.rest.listing_json`), written as it is,
    compact unless the request asks ``?prettyprint=1``, as Files-REST writes.
    """
    if context and context.get(BODY):
        pretty = bool(request and request.args.get("prettyprint"))
        text = json.dumps(
            data,
            indent=2 if pretty else None,
            separators=(", ", ": ") if pretty else (",", ":"),
        )
        response = current_app.response_class(text, mimetype="application/json")
        response.status_code = code
        if headers is not None:
            response.headers.extend(headers)
        if etag:
            response.set_etag(etag)
        return response
    return cast(
        Response,
        files_rest.json_serializer(
            data,
            code,
            headers,
            context,
            etag,
            task_result,
            serializer_mapping=serializer_mapping,
            **kwargs,
        ),
    )
