"""The base of the files views: resolve the record, decide, inject its bucket.

A files view answers for one record. On the record's routes
(``<item route>/files...``) it resolves the PID (404 unknown, 410 deleted,
a redirect for a PID that moved); on Invenio-Files-REST's own routes
(:mod:`invenio_records_files_ext.rest.files_rest`) the record is found from
the bucket. Both then go through :meth:`FilesView.serve`: the access
decision (:func:`invenio_records_files_ext.access.decisions.decide`), the record's
files, and Invenio-Files-REST's resource with the record's bucket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, Optional

from flask import Response, abort, jsonify, request
from invenio_db import db
from invenio_records_rest.errors import PIDRedirectedRESTError, PIDResolveRESTError
from invenio_records_rest.utils import obj_or_import_string
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BuildError

from ..access import decisions as access
from ..api import FilesMixin
from ..errors import FilesNotEnabledError, RecordGoneError
from ..files import owners as linked
from ..files.buckets import FILES, MEDIA
from ..files.enabled import is_enabled
from ..files.iterator import FilesIterator
from ..links import moved_files_url
from ..serializer import files_url
from ..streams.uploads import ensure_limited_stream
from .errors import json_error

if TYPE_CHECKING:
    from flask.views import MethodView

    class _Resource(MethodView):
        """What :class:`FilesView` uses of the Files-REST resource it is mixed into.

        Invenio-Files-REST and Invenio-REST ship no types: their resources
        are ``Any`` to mypy, so this stand-in (a ``MethodView``, as they
        are) names what the mixin calls on ``super()``.
        """

        def make_response(self, *args: Any, **kwargs: Any) -> Any:
            """Serialize an answer (Invenio-REST's content negotiation)."""

else:
    _Resource = object


class Resolved(NamedTuple):
    """A record found from the PID of the route."""

    pid: Any
    """The :class:`~invenio_pidstore.models.PersistentIdentifier`."""
    record: FilesMixin
    """The record, as a record class with files."""


class FilesView(_Resource):
    """Resolve the record, decide access, inject its bucket."""

    on_object = False
    """Whether the view serves one file (else the bucket)."""

    pid: Any
    """The served record's PID (``None`` on Files-REST's routes); set by :meth:`serve`."""
    record: Any
    """The served record; set by :meth:`serve`."""
    files: FilesIterator
    """The served files; set by :meth:`serve` before Files-REST's handler runs."""
    pid_value: Optional[str]
    """The PID's value, kept as text (the PID may expire); set by :meth:`serve`."""

    def __init__(
        self,
        *args: Any,
        endpoint: Optional[str] = None,
        endpoint_options: Optional[dict[str, Any]] = None,
        role: str = FILES,
        view_prefix: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """Serve the files of records of a records REST endpoint.

        :param endpoint: the endpoint's name, or ``None`` on
            Invenio-Files-REST's routes.
        :param endpoint_options: the endpoint's configuration.
        :param role: which of the record's files: ``"files"``
            (``record.files``) or ``"media"`` (``record.media_files``).
        :param view_prefix: prefix of the names of the views to link to
            (default: the endpoint's name; ``<endpoint>_media`` for media
            files).
        """
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        self.endpoint_options = endpoint_options or {}
        self.role = role
        self.view_prefix = view_prefix or endpoint
        # Invenio-Records-REST's ``check_search`` permission looks for it.
        self.search_class = obj_or_import_string(
            self.endpoint_options.get("search_class")
        )
        self.pid = self.record = self.files = None  # type: ignore[assignment]  # until serve()
        self.pid_value = None

    def _resolve(self, pid_value: Any, key: Optional[str] = None) -> Resolved:
        try:
            pid, record = pid_value.data
        except SQLAlchemyError:
            raise PIDResolveRESTError(pid_value.value) from None
        except PIDRedirectedRESTError as error:
            self._redirect(error, key)
        if record.model is None or record.model.is_deleted:
            raise RecordGoneError("The record has been deleted.")
        if not isinstance(record, FilesMixin):
            endpoint = linked.Endpoint(
                self.endpoint,  # type: ignore[arg-type]  # record routes have one
                self.endpoint_options,
                pid,
                True,
            )
            record = linked.record_class_of(endpoint)(dict(record), model=record.model)
        return Resolved(pid, record)

    def _redirect(self, error: PIDRedirectedRESTError, key: Optional[str]) -> NoReturn:
        """Answer a redirect to this route under the PID the requested one moved to."""
        destination = getattr(error.pid_error, "destination_pid", None)
        if destination is None:
            raise error
        rule = request.url_rule
        view = rule.endpoint.rsplit(".", 1)[-1] if rule is not None else ""
        view = view[len(self.endpoint or "") + 1 :] if self.endpoint else None
        others = {
            name: value
            for name, value in (request.view_args or {}).items()
            if name not in ("pid_value", "key")
        }
        # The endpoint the request came through, when it serves the
        # destination's PID type: a PID type may have several (a record's
        # page and its draft), each with its own files routes.
        prefix = None
        if self.endpoint and self.endpoint_options.get("pid_type") == getattr(
            destination, "pid_type", None
        ):
            prefix = self.endpoint
        try:
            location = moved_files_url(
                destination,
                key,
                request.query_string,
                view or None,
                endpoint_prefix=prefix,
                **others,
            )
        except BuildError:
            raise error from None
        code = 301 if request.method in access.READ_METHODS else 308
        response = json_error(
            code, "Moved Permanently", [("Location", location)], location=location
        )
        abort(response)

    def options(self, *args: Any, **kwargs: Any) -> Response:
        """Answer ``OPTIONS`` with the allowed methods, in JSON."""
        methods = set(self.methods or ()) | {"OPTIONS"}
        if "GET" in methods:
            methods.add("HEAD")
        response = jsonify({"methods": sorted(methods)})
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    def dispatch_request(self, **kwargs: Any) -> Any:
        """Resolve the record (route argument ``pid_value``) and serve its files."""
        # Flask passes route arguments by name: taking them all as keywords
        # keeps the signature of ``View.dispatch_request``.
        pid_value = kwargs.pop("pid_value")
        if request.method == "OPTIONS":
            # Before anything else: no record, no permission (CORS preflight).
            return self.options()
        pid, record = self._resolve(pid_value, kwargs.get("key"))
        return self.serve(pid, record, **kwargs)

    def serve(self, pid: Any, record: Any, **kwargs: Any) -> Any:
        """Serve the request with the files of ``record`` (``pid`` may be None)."""
        if request.method == "OPTIONS":
            return self.options()
        self.pid, self.record = pid, record
        # Kept as text: an upload may end the transaction, expiring the PID.
        self.pid_value = pid.pid_value if pid is not None else None
        request._methodview = self  # type: ignore[attr-defined]  # Records-REST reads it
        action = access.request_action(request.method, request.args, self.on_object)
        decision = access.decide(record, action, self.endpoint_options)
        decision.check()
        self.files = self.files_of(record, action)  # type: ignore[assignment]  # None: 404 below
        if (
            self.role != MEDIA
            and not is_enabled(record)
            and (self.files is None or request.method != "GET")
        ):
            if request.method == "GET" and not self.on_object:
                # InvenioRDM's answer for a metadata-only record.
                return jsonify({"enabled": False})
            raise FilesNotEnabledError()
        if self.files is None:
            return json_error(404, "The record has no {0}.".format(self.role_name))
        endpoint = None
        if pid is not None:
            endpoint = linked.Endpoint(
                self.endpoint or "", self.endpoint_options, pid, bool(self.endpoint)
            )
        linked.remember(
            linked.LinkedBucket(
                self.files.bucket.id, record, endpoint, decided={action: decision}
            )
        )
        if request.method not in access.READ_METHODS:
            ensure_limited_stream()
        kwargs["bucket_id"] = str(self.files.bucket.id)
        return super().dispatch_request(**kwargs)

    @property
    def role_name(self) -> str:
        """What the files are called in messages."""
        return "media files" if self.role == MEDIA else "files"

    def files_of(self, record: FilesMixin, action: str) -> Optional[FilesIterator]:
        """Return the record's files of this view's role (``None``: it has none).

        A write to the media files of a record that has none gives it its
        media files bucket (the decision allowed the write).
        """
        if self.role != MEDIA:
            return record.files
        media = record.media_files
        if media is None and action == access.UPDATE:
            media = record.enable_media_files()
            db.session.commit()
        return media

    def _link_context(self) -> dict[str, Any]:
        if self.pid is not None and self.view_prefix:
            return {"endpoint": self.view_prefix, "pid_value": self.pid_value}
        return {}

    def files_url(self, view: str, bucket_id: Any, **values: Any) -> str:
        """Return the URL of the bucket or of one of its files."""
        return files_url(view, bucket_id, **self._link_context(), **values)

    def make_response(self, *args: Any, **kwargs: Any) -> Any:
        """Give the serializer what it needs to link to the record's routes."""
        context = kwargs.get("context")
        if context is not None:
            for name, value in self._link_context().items():
                context.setdefault(name, value)
        return super().make_response(*args, **kwargs)
