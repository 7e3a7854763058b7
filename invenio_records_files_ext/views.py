"""Files routes under Invenio-Records-REST item routes.

For every endpoint named in ``RECORDS_FILES_REST_ENDPOINTS`` two routes are
mounted: ``<item_route><suffix>`` (the record's bucket) and
``<item_route><suffix>/<path:key>`` (one file). They offer every verb of
Invenio-Files-REST's bucket and object routes, with the record's bucket
injected, and add what a record needs:

* the PID is resolved (404 unknown, 410 deleted record, 404 no bucket);
* :func:`~invenio_records_files_ext.access.decide` says whether the user
  may do what the request asks (401, 403, 410, locked files 403);
* keys are validated before any byte is read, a Content-MD5 or size that
  does not match the body is refused;
* uploads and deletions go through the record's files API, so the record's
  files change in the same transaction;
* every error answers JSON.

The same views serve Invenio-Files-REST's own routes for buckets linked to
a record (:mod:`invenio_records_files_ext.files_rest_views`).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request
from invenio_db import db
from invenio_files_rest.errors import FileSizeError, MissingQueryParameter
from invenio_files_rest.models import MultipartObject, ObjectVersion, ObjectVersionTag
from invenio_files_rest.proxies import current_files_rest, current_permission_factory
from invenio_files_rest.signals import file_deleted, file_uploaded
from invenio_files_rest.views import (
    BucketResource,
    ObjectResource,
    check_permission,
    need_permissions,
    pass_multipart,
    use_kwargs_from_json,
    use_kwargs_from_query,
)
from invenio_records_rest.errors import PIDResolveRESTError
from invenio_records_rest.utils import obj_or_import_string
from invenio_rest.errors import RESTException
from marshmallow import missing
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from . import access, linked
from .api import FilesMixin
from .errors import InvalidPageSizeError, RecordGoneError, RecordsFilesError
from .files import multipart as multipart_uploads
from .files import queries
from .keys import validate_key
from .serializer import BLUEPRINT_NAME, files_url, json_serializer
from .storage import UploadTarget
from .streams import ensure_limited_stream, serve_file_body
from .versions import VersionCursor, versions_page


def _json_error(code, message):
    response = jsonify({"status": code, "message": message})
    response.status_code = code
    return response


def handle_records_files_error(error):
    """Answer a :class:`RecordsFilesError` with its status and a JSON body."""
    return _json_error(error.code, error.message)


def handle_http_exception(error):
    """Answer any HTTP error raised in the files routes with JSON."""
    if isinstance(error, RESTException):
        return error
    if error.code is None:  # pragma: no cover - not an error response
        return error
    return _json_error(error.code, error.description)


class _RecordFilesView:
    """Resolve the record, decide access, inject its bucket."""

    on_object = False
    """Whether the view serves one file (else the bucket)."""

    def __init__(self, *args, endpoint=None, endpoint_options=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        self.endpoint_options = endpoint_options or {}
        # Invenio-Records-REST's ``check_search`` permission looks for it.
        self.search_class = obj_or_import_string(
            self.endpoint_options.get("search_class")
        )
        self.pid = self.record = self.files = None

    def _resolve(self, pid_value):
        try:
            pid, record = pid_value.data
        except SQLAlchemyError:
            raise PIDResolveRESTError(pid_value.value)
        if record.model is None or record.model.is_deleted:
            raise RecordGoneError("The record has been deleted.")
        if not isinstance(record, FilesMixin):
            endpoint = linked.Endpoint(self.endpoint, self.endpoint_options, pid, True)
            record = linked.record_class_of(endpoint)(dict(record), model=record.model)
        return pid, record

    def dispatch_request(self, pid_value, **kwargs):
        """Resolve the record and serve its files."""
        pid, record = self._resolve(pid_value)
        return self.serve(pid, record, **kwargs)

    def serve(self, pid, record, **kwargs):
        """Serve the request with the files of ``record`` (``pid`` may be None)."""
        self.pid, self.record = pid, record
        request._methodview = self
        action = access.request_action(request.method, request.args, self.on_object)
        access.decide(record, action, self.endpoint_options).check()
        self.files = record.files
        if self.files is None:
            return _json_error(404, "The record has no files.")
        endpoint = None
        if pid is not None:
            endpoint = linked.Endpoint(
                self.endpoint or "", self.endpoint_options, pid, bool(self.endpoint)
            )
        linked.remember(linked.LinkedBucket(self.files.bucket.id, record, endpoint))
        if request.method not in access.READ_METHODS:
            ensure_limited_stream()
        kwargs["bucket_id"] = str(self.files.bucket.id)
        return super().dispatch_request(**kwargs)

    def _link_context(self):
        if self.pid is not None and self.endpoint:
            return {"endpoint": self.endpoint, "pid_value": self.pid.pid_value}
        return {}

    def files_url(self, view, bucket_id, **values):
        """Return the URL of the bucket or of one of its files."""
        return files_url(view, bucket_id, **self._link_context(), **values)

    def make_response(self, *args, **kwargs):
        """Give the serializer what it needs to link to the record's routes."""
        context = kwargs.get("context")
        if context is not None:
            for name, value in self._link_context().items():
                context.setdefault(name, value)
        return super().make_response(*args, **kwargs)


def _int_arg(name: str, default: int, maximum: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= maximum:
        raise InvalidPageSizeError(
            "{0} must be a whole number from 1 to {1}.".format(name, maximum)
        )
    return number


def _page_links(url: str, size: int, **cursors: Optional[Any]) -> dict[str, str]:
    links = {}
    for name, (param, cursor) in cursors.items():
        if cursor is not None:
            links[name] = "{0}?{1}".format(
                url, urlencode({"size": size, param: cursor.encode()})
            )
    return links


class RecordBucketResource(_RecordFilesView, BucketResource):
    """The record's bucket: list files, versions and multipart uploads."""

    @need_permissions(lambda self, bucket, versions: bucket, "bucket-read")
    def listobjects(self, bucket: Any, versions: Any) -> Any:
        """List one page of the files (or of all their versions).

        ``size`` sets the page size; the ``next`` and ``prev`` links carry
        the cursors (``after``, ``before``) of the neighbouring pages. Each
        page costs the same queries and memory whatever the record holds.
        """
        config = current_app.config
        size = _int_arg(
            "size",
            config["RECORDS_FILES_LISTING_PAGE_SIZE"],
            config["RECORDS_FILES_LISTING_MAX_PAGE_SIZE"],
        )
        url = self.files_url("bucket_api", bucket.id)
        if versions is not missing:
            check_permission(
                current_permission_factory(bucket, "bucket-read-versions"),
                hidden=False,
            )
            after = request.args.get("after")
            page = versions_page(
                bucket.id, size, VersionCursor.decode(after) if after else None
            )
            objects = page.items
            links = _page_links(url + "?versions", size, next=("after", page.next))
            links = {k: v.replace("?versions?", "?versions&") for k, v in links.items()}
        else:
            after, before = request.args.get("after"), request.args.get("before")
            files_page = queries.page(
                bucket.id,
                size,
                after=queries.Cursor.decode(after) if after else None,
                before=queries.Cursor.decode(before) if before else None,
            )
            objects = [obj for obj, _ in files_page.items]
            links = _page_links(
                url,
                size,
                next=("after", files_page.next),
                prev=("before", files_page.prev),
            )
        return self.make_response(
            data=objects,
            context={
                "class": ObjectVersion,
                "bucket": bucket,
                "many": True,
                "page_links": links,
            },
        )


class RecordObjectResource(_RecordFilesView, ObjectResource):
    """One file of the record: download, upload, delete, multipart."""

    on_object = True

    @staticmethod
    def check_object_permission(obj: Any) -> None:
        """Check the record's permission to read this version of a file.

        The current version needs ``read``; a replaced or deleted one
        ``versions`` (see ``RECORDS_FILES_VERSIONS_PERMISSION``).
        """
        action = access.READ if obj.is_head else access.VERSIONS
        decision = access.decide_for_bucket(obj.bucket_id, action)
        if decision is None:
            ObjectResource.check_object_permission(obj)
        else:
            decision.check()

    def serve(self, pid: Any, record: Any, **kwargs: Any) -> Any:
        """Validate the key of uploads before anything else happens."""
        if request.method in ("PUT", "POST"):
            validate_key(kwargs.get("key"))
        return super().serve(pid, record, **kwargs)

    @staticmethod
    def send_object(*args: Any, **kwargs: Any) -> Any:
        """Send a file, letting the WSGI server stream it."""
        return serve_file_body(ObjectResource.send_object(*args, **kwargs))

    def create_object(self, bucket: Any, key: str) -> Any:
        """Upload a file through the record's files API."""
        stream, content_length, content_md5, tags = current_files_rest.upload_factory()
        size_limit = bucket.size_limit
        if content_length and size_limit and content_length > size_limit:
            # Refuse before reading the body; the storage checks again.
            raise FileSizeError(
                description=getattr(size_limit, "reason", "File size limit exceeded.")
            )
        target = UploadTarget.of(bucket)
        # Only reads happened so far: ending the transaction now means the
        # body is streamed with no database connection held, and a database
        # restart meanwhile does not fail the upload.
        db.session.rollback()
        fileobj = self.files.put(
            key, stream, size=content_length, content_md5=content_md5, target=target
        )
        for name, value in (tags or {}).items():
            ObjectVersionTag.create(fileobj.obj, name, value)
        # Answer from what is in memory before committing: once the file is
        # committed, the client must not get an error for it.
        response = self.make_response(
            data=fileobj.obj,
            context={"class": ObjectVersion, "bucket": self.files.bucket},
            etag=fileobj.obj.file.checksum,
        )
        db.session.commit()
        file_uploaded.send(current_app._get_current_object(), obj=fileobj.obj)
        return response

    @use_kwargs_from_query(ObjectResource.multipart_init_args)
    @use_kwargs_from_json(ObjectResource.multipart_init_json_args)
    def multipart_init(
        self,
        bucket: Any,
        key: str,
        query_size: Any = None,
        query_part_size: Any = None,
        json_size: Any = None,
        json_part_size: Any = None,
    ) -> Any:
        """Start a multipart upload; its size is reserved under the bucket's lock."""
        size = query_size or json_size
        part_size = query_part_size or json_part_size
        if size is None:
            raise MissingQueryParameter("size")
        if part_size is None:
            raise MissingQueryParameter("partSize")
        multipart = multipart_uploads.start(bucket, key, size, part_size)
        response = self.make_response(
            data=multipart, context={"class": MultipartObject, "bucket": bucket}
        )
        db.session.commit()
        return response

    # Multipart uploads are completed and aborted here, in the request, not
    # by Celery tasks: the file gets attached through the record's files API
    # (locks, quota, hooks, rows) and no task queue is needed.
    @pass_multipart(with_completed=True)
    def multipart_complete(self, multipart: Any) -> Any:
        """Complete a multipart upload: the file appears in the record."""
        fileobj = self.files.complete_multipart(multipart)
        response = self.make_response(
            data=multipart,
            context={
                "class": MultipartObject,
                "bucket": self.files.bucket,
                "object_version_id": str(fileobj.obj.version_id),
            },
        )
        db.session.commit()
        file_uploaded.send(current_app._get_current_object(), obj=fileobj.obj)
        return response

    @pass_multipart()
    @need_permissions(lambda self, multipart: multipart, "multipart-delete")
    def multipart_delete(self, multipart: Any) -> Any:
        """Abort a multipart upload; its bytes go once this is committed."""
        multipart_uploads.abort(multipart)
        response = self.make_response("", 204)
        db.session.commit()
        return response

    @need_permissions(
        lambda self, bucket, obj, *args: obj, "object-delete", hidden=False
    )
    def delete_object(self, bucket: Any, obj: Any, version_id: Any) -> Any:
        """Delete a file (delete marker) or one version of it for good."""
        if version_id is None:
            self.files.delete(obj.key)
        else:
            check_permission(
                current_permission_factory(bucket, "object-delete-version"),
                hidden=False,
            )
            self.files.remove_version(obj)
        response = self.make_response("", 204)
        db.session.commit()
        file_deleted.send(current_app._get_current_object(), obj=obj)
        return response


def create_blueprint_from_app(app):
    """Create the files blueprint from ``RECORDS_FILES_REST_ENDPOINTS``.

    :raises ValueError: if an endpoint is not in the named configuration.
    """
    blueprint = Blueprint(BLUEPRINT_NAME, __name__, url_prefix="")
    serializers = {"application/json": json_serializer}
    for config_name, endpoints in (
        app.config.get("RECORDS_FILES_REST_ENDPOINTS") or {}
    ).items():
        rest_endpoints = app.config.get(config_name) or {}
        for endpoint, suffix in endpoints.items():
            if endpoint not in rest_endpoints:
                raise ValueError(
                    "Endpoint {0} is not defined in {1}.".format(endpoint, config_name)
                )
            options = rest_endpoints[endpoint]
            route = options["item_route"] + "/" + suffix.strip("/")
            view_options = dict(
                serializers=serializers, endpoint=endpoint, endpoint_options=options
            )
            blueprint.add_url_rule(
                route,
                view_func=RecordBucketResource.as_view(
                    "{0}_bucket_api".format(endpoint), **view_options
                ),
                strict_slashes=False,
            )
            blueprint.add_url_rule(
                route + "/<path:key>",
                view_func=RecordObjectResource.as_view(
                    "{0}_object_api".format(endpoint), **view_options
                ),
            )
    blueprint.register_error_handler(RecordsFilesError, handle_records_files_error)
    blueprint.register_error_handler(HTTPException, handle_http_exception)
    return blueprint


__all__ = (
    "RecordBucketResource",
    "RecordObjectResource",
    "create_blueprint_from_app",
)
