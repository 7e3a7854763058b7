"""Files routes under Invenio-Records-REST item routes.

For every endpoint named in ``RECORDS_FILES_REST_ENDPOINTS`` two routes are
mounted: ``<item_route><suffix>`` (the record's bucket) and
``<item_route><suffix>/<path:key>`` (one file). They offer every verb of
Invenio-Files-REST's bucket and object routes, with the record's bucket
injected, and add what a record needs:

* the PID is resolved (404 unknown, 410 deleted record, 404 no bucket);
* a PID redirected to another one answers a redirect to the same route
  under the other PID (301 for reads, 308 for writes, so that clients
  repeat the method and body);
* :func:`~invenio_records_files_ext.access.decide` says whether the user
  may do what the request asks (401, 403, 410, locked files 403);
* keys are validated (and normalised) before any byte is read, uploads need
  a ``Content-Length``, a Content-MD5 or size that does not match the body
  (or a part) is refused;
* uploads and deletions go through the record's files API, so the record's
  files change in the same transaction;
* every answer is JSON, errors and ``OPTIONS`` included, and every error
  carries a message.

The same views serve Invenio-Files-REST's own routes for buckets linked to
a record (:mod:`invenio_records_files_ext.files_rest_views`).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, jsonify, request
from invenio_db import db
from invenio_files_rest.errors import FileSizeError, MissingQueryParameter
from invenio_files_rest.models import (
    MultipartObject,
    ObjectVersion,
    ObjectVersionTag,
    Part,
)
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
from invenio_records_rest.errors import PIDRedirectedRESTError, PIDResolveRESTError
from invenio_records_rest.utils import obj_or_import_string
from invenio_rest.errors import RESTException
from marshmallow import missing
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import BuildError, PathConverter

from . import access, linked
from .api import FilesMixin
from .errors import InvalidPageSizeError, RecordGoneError, RecordsFilesError
from .files import multipart as multipart_uploads
from .files import queries
from .keys import check_url_path, validate_key
from .links import moved_files_url
from .serializer import BLUEPRINT_NAME, files_url, json_serializer
from .storage import UploadTarget
from .streams import check_upload_body, ensure_limited_stream, serve_file_body
from .transactions import release_if_read_only
from .versions import VersionCursor, versions_page


def _default_message(code):
    known = default_exceptions.get(code)
    if known is not None and known.description:
        return known.description
    return HTTP_STATUS_CODES.get(code, "Error {0}".format(code))


def _json_error(code, message):
    response = jsonify({"status": code, "message": message or _default_message(code)})
    response.status_code = code
    return response


def handle_records_files_error(error):
    """Answer a :class:`RecordsFilesError` with its status and a JSON body."""
    return _json_error(error.code, error.message)


def handle_http_exception(error):
    """Answer any HTTP error raised in the files routes with JSON."""
    if isinstance(error, RESTException):
        if not error.description:
            error.description = _default_message(error.code)
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

    def _resolve(self, pid_value, key=None):
        try:
            pid, record = pid_value.data
        except SQLAlchemyError:
            raise PIDResolveRESTError(pid_value.value)
        except PIDRedirectedRESTError as error:
            self._redirect(error, key)
        if record.model is None or record.model.is_deleted:
            raise RecordGoneError("The record has been deleted.")
        if not isinstance(record, FilesMixin):
            endpoint = linked.Endpoint(self.endpoint, self.endpoint_options, pid, True)
            record = linked.record_class_of(endpoint)(dict(record), model=record.model)
        return pid, record

    @staticmethod
    def _redirect(error, key):
        """Answer a redirect to this route under the PID the requested one moved to."""
        destination = getattr(error.pid_error, "destination_pid", None)
        if destination is None:
            raise error
        try:
            location = moved_files_url(destination, key, request.query_string)
        except BuildError:
            raise error
        code = 301 if request.method in access.READ_METHODS else 308
        response = jsonify(
            {"status": code, "message": "Moved Permanently", "location": location}
        )
        response.status_code = code
        response.headers["Location"] = location
        abort(response)

    def options(self, *args, **kwargs):
        """Answer ``OPTIONS`` with the allowed methods, in JSON."""
        methods = set(self.methods or ()) | {"OPTIONS"}
        if "GET" in methods:
            methods.add("HEAD")
        response = jsonify({"methods": sorted(methods)})
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    def dispatch_request(self, pid_value, **kwargs):
        """Resolve the record and serve its files."""
        if request.method == "OPTIONS":
            # Before anything else: no record, no permission (CORS preflight).
            return self.options()
        pid, record = self._resolve(pid_value, kwargs.get("key"))
        return self.serve(pid, record, **kwargs)

    def serve(self, pid, record, **kwargs):
        """Serve the request with the files of ``record`` (``pid`` may be None)."""
        if request.method == "OPTIONS":
            return self.options()
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

    requested_key: Optional[str] = None
    """The key as the URL spells it."""

    def serve(self, pid: Any, record: Any, **kwargs: Any) -> Any:
        """Check the key before anything else happens."""
        if request.method != "OPTIONS":
            check_url_path(request.environ.get("PATH_INFO"))
            self.requested_key = kwargs.get("key")
            kwargs["key"] = validate_key(self.requested_key)
        return super().serve(pid, record, **kwargs)

    def _stored_spelling(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        # Files stored before keys were normalised keep their spelling.
        kwargs["key"] = self.files.stored_key(self.requested_key)
        return kwargs

    def get(self, *args: Any, **kwargs: Any) -> Any:
        """Download a file, list its versions or a multipart upload's parts."""
        return super().get(*args, **self._stored_spelling(kwargs))

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        """Delete a file, one of its versions, or abort a multipart upload."""
        return super().delete(*args, **self._stored_spelling(kwargs))

    @staticmethod
    def send_object(*args: Any, **kwargs: Any) -> Any:
        """Send a file, letting the WSGI server stream it."""
        return serve_file_body(ObjectResource.send_object(*args, **kwargs))

    def create_object(self, bucket: Any, key: str) -> Any:
        """Upload a file through the record's files API."""
        check_upload_body()
        stream, content_length, content_md5, tags = current_files_rest.upload_factory()
        size_limit = bucket.size_limit
        if content_length and size_limit and content_length > size_limit:
            # Refuse before reading the body; the storage checks again.
            raise FileSizeError(
                description=getattr(size_limit, "reason", "File size limit exceeded.")
            )
        target = UploadTarget.of(bucket)
        # Ending the transaction now means the body is streamed with no
        # database connection held, and a database restart meanwhile does
        # not fail the upload; but only if it holds no work of earlier code
        # of this request, which must be committed with the file.
        release_if_read_only()
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
        # 0 is a value (refused by the size checks), not a missing one.
        size = query_size if query_size is not None else json_size
        part_size = query_part_size if query_part_size is not None else json_part_size
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

    @pass_multipart(with_completed=True)
    def multipart_uploadpart(self, multipart: Any) -> Any:
        """Upload one part; a part that does not match its Content-MD5 is refused."""
        check_upload_body()
        content_length, part_number, stream, _, content_md5, _ = (
            current_files_rest.multipart_partfactory()
        )
        part = multipart_uploads.upload_part(
            multipart, part_number, stream, content_length, content_md5
        )
        response = self.make_response(
            data=part, context={"class": Part}, etag=part.checksum
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


class FileKeyConverter(PathConverter):
    """Any file key, a leading ``/`` included, so that it reaches the key checks.

    Werkzeug's ``path`` converter does not match a leading ``/``, and merging
    slashes answers an HTML redirect: both would hide a bad key.
    """

    regex = ".+?"
    part_isolating = False


KEY_CONVERTER = "records_files_key"


def create_blueprint_from_app(app):
    """Create the files blueprint from ``RECORDS_FILES_REST_ENDPOINTS``.

    :raises ValueError: if an endpoint is not in the named configuration.
    """
    blueprint = Blueprint(BLUEPRINT_NAME, __name__, url_prefix="")
    app.url_map.converters.setdefault(KEY_CONVERTER, FileKeyConverter)
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
                # A JSON 400 for keys with '//', not Werkzeug's HTML redirect.
                merge_slashes=False,
            )
            blueprint.add_url_rule(
                route + "/<{0}:key>".format(KEY_CONVERTER),
                view_func=RecordObjectResource.as_view(
                    "{0}_object_api".format(endpoint), **view_options
                ),
                merge_slashes=False,
            )
    blueprint.register_error_handler(RecordsFilesError, handle_records_files_error)
    blueprint.register_error_handler(HTTPException, handle_http_exception)
    return blueprint


__all__ = (
    "RecordBucketResource",
    "RecordObjectResource",
    "create_blueprint_from_app",
)
