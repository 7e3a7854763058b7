"""JSON serialization for the files routes, with links to the record's routes.

Invenio-Files-REST's schemas link to its own ``/files/<bucket_id>`` routes.
Under a record those links must point to ``<item_route>/<suffix>`` built
from the PID *value* (a string), which the views put in the serializer
context as ``pid_value`` and ``endpoint``. Without them (a record whose
endpoint has no files routes) the links stay on Invenio-Files-REST's
routes. Links start with the site's ``SITE_API_URL`` when it is set
(:func:`~invenio_records_files_ext.urls.api_url`).
"""

from functools import partial

from invenio_files_rest import serializer as files_rest
from invenio_files_rest.models import Bucket, MultipartObject, ObjectVersion, Part
from marshmallow import fields, post_dump
from marshmallow_utils.context import context_schema

from .checksums import file_checksums
from .transfers.parts import PartLayout
from .urls import api_url

BLUEPRINT_NAME = "invenio_records_files"

_FILES_REST_VIEWS = {
    "bucket_api": "invenio_files_rest.bucket_api",
    "object_api": "invenio_files_rest.object_api",
}


def files_url(view, bucket_id, endpoint=None, pid_value=None, **values):
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


def _url(view, bucket_id, **values):
    context = context_schema.get()
    return files_url(
        view, bucket_id, context.get("endpoint"), context.get("pid_value"), **values
    )


class BucketSchema(files_rest.BucketSchema):
    """Bucket of a record, linked through the record's files route."""

    def dump_links(self, o):
        """Dump links."""
        url = _url("bucket_api", o.id)
        return {"self": url, "versions": url + "?versions", "uploads": url + "?uploads"}


class ObjectVersionSchema(files_rest.ObjectVersionSchema):
    """Object version of a record's file, with all its ``checksums``."""

    checksums = fields.Method("dump_checksums", dump_only=True)

    def dump_checksums(self, o):
        """Dump every stored checksum: ``{"md5": ..., "sha256": ...}``.

        A listing puts those of its page in the context (``checksums``:
        file id -> checksums), read in one query.
        """
        if o.file is None:
            return None
        return file_checksums(o.file, context_schema.get().get("checksums"))

    def dump_links(self, o):
        """Dump links."""
        version = {"versionId": o.version_id}
        current = o.is_head and not o.deleted
        links = {
            "self": _url(
                "object_api", o.bucket_id, key=o.key, **({} if current else version)
            ),
            "version": _url("object_api", o.bucket_id, key=o.key, **version),
        }
        if current:
            links["uploads"] = _url("object_api", o.bucket_id, key=o.key) + "?uploads"
        return links

    @post_dump(pass_many=True)
    def wrap(self, data, many):
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


class MultipartObjectSchema(files_rest.MultipartObjectSchema):
    """Multipart upload to a record's bucket."""

    # Files-REST says 0 when the size is a multiple of the part size; the
    # last part is then a whole one (issue 18, finding 9).
    last_part_size = fields.Method("dump_last_part_size", dump_only=True)

    def dump_last_part_size(self, o):
        """Dump the length of the last part (never 0 for a non-empty upload)."""
        layout = PartLayout.of(int(o.size), int(o.chunk_size))
        return layout.length(layout.parts)

    def dump_links(self, o):
        """Dump links."""
        context = context_schema.get()
        links = {
            "self": _url("object_api", o.bucket_id, key=o.key, uploadId=o.upload_id),
            "object": _url("object_api", o.bucket_id, key=o.key),
        }
        if context.get("object_version_id"):
            links["object_version"] = _url(
                "object_api",
                o.bucket_id,
                key=o.key,
                versionId=context["object_version_id"],
            )
        if context.get("bucket"):
            links["bucket"] = _url("bucket_api", o.bucket_id)
        return links


class PartSchema(files_rest.PartSchema):
    """Part of a multipart upload."""

    @post_dump(pass_many=True)
    def wrap(self, data, many):
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

json_serializer = partial(
    files_rest.json_serializer, serializer_mapping=serializer_mapping
)
"""Invenio-Files-REST's JSON serializer with this module's schemas."""
