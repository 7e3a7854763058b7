"""One file of a record: download, upload, delete, multipart uploads."""

from __future__ import annotations

from typing import Any, Optional

from flask import Response, abort, jsonify, redirect, request
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
    ObjectResource,
    check_permission,
    need_permissions,
    pass_multipart,
    use_kwargs_from_json,
    use_kwargs_from_query,
)

from ..access import decisions as access
from ..db.keys import check_url_path, validate_key
from ..db.ledger import release_if_read_only
from ..db.steps import app_object
from ..files import multipart as multipart_uploads
from ..storage.writes import UploadTarget
from ..streams.downloads import serve_file_body
from ..streams.uploads import check_upload_body
from ..transfers.addresses import remote_location
from .base import FilesView
from .bodies import check_json_or_empty
from .negotiation import wants_entry
from .transfers import abort_pending, entry_of, is_remote


class RecordObjectResource(FilesView, ObjectResource):  # type: ignore[misc]  # Files-REST is untyped
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
        kwargs["key"] = self.files.stored_key(self.requested_key)  # type: ignore[arg-type]  # serve() set it
        return kwargs

    answers_entry = True
    """Whether ``Accept: application/json`` gets the file's entry (not on ``/content``)."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        """Download a file, list its versions or a multipart upload's parts.

        ``Accept: application/json`` without a wildcard answers the file's
        entry instead, as InvenioRDM does (see
        :mod:`~invenio_records_files_ext.rest.negotiation`).
        """
        kwargs = self._stored_spelling(kwargs)
        if self.answers_entry and wants_entry(request):
            response = jsonify(self._entry(kwargs["key"]))
        else:
            response = super().get(*args, **kwargs)
        if self.answers_entry:
            # One URL, two representations: caches must tell them apart.
            response.vary.add("Accept")
        return response

    def _entry(self, key: str) -> dict[str, Any]:
        """Return the InvenioRDM entry of a completed or pending file."""
        try:
            return entry_of(self, self.files[key])
        except KeyError:
            pass
        found = self.files.transfers.get(key)
        # Uploads in progress are their writers' business.
        access.decide(self.record, access.UPDATE, self.endpoint_options).check()
        return entry_of(self, found)

    @use_kwargs_from_query(ObjectResource.delete_args)  # type: ignore[untyped-decorator]  # Files-REST is untyped
    def delete(
        self, *args: Any, version_id: Any = None, upload_id: Any = None, **kwargs: Any
    ) -> Any:
        """Delete a file, one of its versions, a pending file, or abort a multipart upload.

        Without ``versionId`` or ``uploadId`` (read by webargs, as
        Files-REST reads them) a pending file of the key is removed, if
        there is one.
        """
        if version_id is None and upload_id is None:
            answer = abort_pending(self, kwargs["key"])
            if answer is not None:
                return answer
        return super().delete(*args, **self._stored_spelling(kwargs))

    def post(self, *args: Any, **kwargs: Any) -> Any:
        """Start or complete a multipart upload (Files-REST's protocol).

        Its body is JSON or nothing (see :mod:`~invenio_records_files_ext.rest.bodies`): a cross-site form
        must not reserve the owner's quota.
        """
        check_json_or_empty()
        return super().post(*args, **kwargs)

    @classmethod
    def get_object(cls, bucket: Any, key: str, version_id: Any) -> Any:
        """Find the version; a download of a remote file redirects to its URL."""
        obj = super().get_object(bucket, key, version_id)
        if request.method in ("GET", "HEAD") and is_remote(obj):
            abort(redirect(remote_location(obj.file.uri), 302))
        return obj

    @staticmethod
    def send_object(*args: Any, **kwargs: Any) -> Response:
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
        file_uploaded.send(app_object(), obj=fileobj.obj)
        return response

    @use_kwargs_from_query(ObjectResource.multipart_init_args)  # type: ignore[untyped-decorator]  # Files-REST is untyped
    @use_kwargs_from_json(ObjectResource.multipart_init_json_args)  # type: ignore[untyped-decorator]  # Files-REST is untyped
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

    @pass_multipart(with_completed=True)  # type: ignore[untyped-decorator]  # Files-REST is untyped
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
    @pass_multipart(with_completed=True)  # type: ignore[untyped-decorator]  # Files-REST is untyped
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
        file_uploaded.send(app_object(), obj=fileobj.obj)
        return response

    @pass_multipart()  # type: ignore[untyped-decorator]  # Files-REST is untyped
    @need_permissions(lambda self, multipart: multipart, "multipart-delete")  # type: ignore[untyped-decorator]  # Files-REST is untyped
    def multipart_delete(self, multipart: Any) -> Any:
        """Abort a multipart upload; its bytes go once this is committed."""
        multipart_uploads.abort(multipart)
        response = self.make_response("", 204)
        db.session.commit()
        return response

    @need_permissions(  # type: ignore[untyped-decorator]  # Files-REST is untyped
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
        file_deleted.send(app_object(), obj=obj)
        return response


class RecordContentResource(RecordObjectResource):
    """``GET <files route>/<key>/content``: always the bytes, whatever ``Accept`` says."""

    answers_entry = False
