"""JSON serialization for the files routes, with links to the record's routes.

Invenio-Files-REST's schemas link to its own ``/files/<bucket_id>`` routes.
Under a record those links must point to ``<item_route>/<suffix>`` built
from the PID *value* (a string), which the views put in the serializer
context as ``pid_value`` and ``endpoint``.
"""

from functools import partial

from flask import url_for
from invenio_files_rest import serializer as files_rest
from invenio_files_rest.models import Bucket, MultipartObject, ObjectVersion, Part
from marshmallow import post_dump
from marshmallow_utils.context import context_schema

BLUEPRINT_NAME = "invenio_records_files"


def _url(view, **values):
    context = context_schema.get()
    return url_for(
        "{0}.{1}_{2}".format(BLUEPRINT_NAME, context["endpoint"], view),
        pid_value=context["pid_value"],
        _external=True,
        **values,
    )


class BucketSchema(files_rest.BucketSchema):
    """Bucket of a record, linked through the record's files route."""

    def dump_links(self, o):
        """Dump links."""
        url = _url("bucket_api")
        return {"self": url, "versions": url + "?versions", "uploads": url + "?uploads"}


class ObjectVersionSchema(files_rest.ObjectVersionSchema):
    """Object version of a record's file."""

    def dump_links(self, o):
        """Dump links."""
        version = {"versionId": o.version_id}
        current = o.is_head and not o.deleted
        links = {
            "self": _url("object_api", key=o.key, **({} if current else version)),
            "version": _url("object_api", key=o.key, **version),
        }
        if current:
            links["uploads"] = _url("object_api", key=o.key) + "?uploads"
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
        return data


class MultipartObjectSchema(files_rest.MultipartObjectSchema):
    """Multipart upload to a record's bucket."""

    def dump_links(self, o):
        """Dump links."""
        context = context_schema.get()
        links = {
            "self": _url("object_api", key=o.key, uploadId=o.upload_id),
            "object": _url("object_api", key=o.key),
        }
        if context.get("object_version_id"):
            links["object_version"] = _url(
                "object_api", key=o.key, versionId=context["object_version_id"]
            )
        if context.get("bucket"):
            links["bucket"] = _url("bucket_api")
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
