"""One decision for a record's files, whatever the route.

Who may do what with the files of a bucket linked to a record is decided
here, from the record, by :func:`decide`:

* ``read`` (list, download, the files archive, browsing inside zip files):
  the record's read permission and, when the record's files are
  restricted or under embargo (:mod:`~invenio_records_files_ext.access.restrictions`),
  the permission of ``RECORDS_FILES_RESTRICTED_PERMISSION_FACTORY`` too;
* ``update`` (upload, delete, multipart uploads): its update permission;
* ``versions`` (list ``?versions``, download a replaced or deleted file
  with ``?versionId=``): the permission named by
  ``RECORDS_FILES_VERSIONS_PERMISSION``, ``update`` by default, and the
  restricted files' permission as for ``read``;
* the record's state comes first: a deleted record's files answer 410, and
  locked files refuse every write;
* superusers (Invenio-Access's ``superuser-access``) pass every permission.

The permissions come from ``RECORDS_FILES_REST_PERMISSION_FACTORY`` (by
default the record endpoint's own read and update factories, see
:mod:`invenio_records_files_ext.access.permissions`).

The same decision applies on Invenio-Files-REST's own routes and to every
other caller of its permission factory (previewers, for instance):
:class:`FilesRestPermissionFactory` wraps ``FILES_REST_PERMISSION_FACTORY``
so that linked buckets are decided here and other buckets as before.
:func:`install` puts the wrapper in place; the extension calls it, so a
site configures nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional, cast

from flask import Flask
from invenio_files_rest.errors import BucketLockedError
from invenio_files_rest.models import Bucket, MultipartObject, ObjectVersion
from invenio_records_rest.utils import obj_or_import_string

from ..errors import (
    ConfigurationError,
    LoginRequiredError,
    PermissionDeniedError,
    RecordGoneError,
)
from ..files import owners as linked
from ..settings.current import current
from .permissions import is_superuser, logged_in_user
from .restrictions import files_restricted

READ = "read"
"""List and download the current files."""

UPDATE = "update"
"""Upload, delete, rename; start, list, complete or abort multipart uploads."""

VERSIONS = "versions"
"""List the versions of the files; download a replaced or deleted one."""

ACTIONS = (READ, UPDATE, VERSIONS)
"""Every action :func:`decide` knows."""

FILES_REST_ACTIONS: Mapping[str, str] = {
    "bucket-read": READ,
    "object-read": READ,
    "bucket-read-versions": VERSIONS,
    "object-read-version": VERSIONS,
    "bucket-update": UPDATE,
    "object-delete": UPDATE,
    "object-delete-version": UPDATE,
    "bucket-listmultiparts": UPDATE,
    "multipart-read": UPDATE,
    "multipart-delete": UPDATE,
}
"""Invenio-Files-REST's actions on a bucket, as actions on the record's files.

Listing or reading multipart uploads is a writer's business, hence
``update``. An action not named here (a newer Invenio-Files-REST's) counts
as ``update``.
"""

READ_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))

_VERBS = {READ: "read", UPDATE: "change", VERSIONS: "read earlier versions of"}


@dataclass(frozen=True)
class Decision:
    """The answer to "may the current user do this with these files?"."""

    allowed: bool
    """Whether the action may go ahead."""

    status: int = 200
    """HTTP status of the refusal: 401, 403 or 410 (200 when allowed)."""

    message: str = ""
    """Why the action is refused."""

    locked: bool = False
    """Refused because the record's files are locked."""

    def error(self) -> Optional[Exception]:
        """Return the exception that tells the refusal, ``None`` if allowed."""
        if self.allowed:
            return None
        if self.locked:
            return BucketLockedError(description=self.message)  # type: ignore[no-any-return]  # Files-REST is untyped
        if self.status == 410:
            return RecordGoneError(self.message)
        if self.status == 401:
            return LoginRequiredError(self.message)
        return PermissionDeniedError(self.message)

    def check(self) -> None:
        """Raise :meth:`error` unless the action is allowed."""
        error = self.error()
        if error is not None:
            raise error


ALLOWED = Decision(True)


def needed_permission(action: str) -> str:
    """Return the record permission (``read``/``update``) ``action`` needs.

    :raises ~invenio_records_files_ext.errors.ConfigurationError: (a ValueError) for an unknown action or a
        ``RECORDS_FILES_VERSIONS_PERMISSION`` other than ``read``/``update``.
    """
    if action == VERSIONS:
        action = current().access.versions_permission
        if action not in (READ, UPDATE):
            raise ConfigurationError(
                "RECORDS_FILES_VERSIONS_PERMISSION must be 'read' or 'update', "
                "not {0!r}.".format(action)
            )
    if action not in (READ, UPDATE):
        raise ConfigurationError("Unknown action {0!r}.".format(action))
    return action


def _refusal(action: str) -> Decision:
    verb = _VERBS[action]
    if logged_in_user() is None:
        return Decision(
            False, 401, "You must log in to {0} the files of this record.".format(verb)
        )
    return Decision(
        False,
        403,
        "You do not have permission to {0} the files of this record.".format(verb),
    )


def _restricted_refusal() -> Decision:
    if logged_in_user() is None:
        return Decision(
            False, 401, "The files of this record are restricted: you must log in."
        )
    return Decision(
        False,
        403,
        "The files of this record are restricted: you do not have permission "
        "to read them.",
    )


def _grants(permission: Any) -> bool:
    return permission is None or bool(permission.can())


def _is_locked(record: Any) -> bool:
    bucket = getattr(record, "bucket", None)
    return bool(bucket is not None and bucket.locked)


def decide(
    record: Any, action: str, endpoint: Optional[Mapping[str, Any]] = None
) -> Decision:
    """Decide whether the current user may do ``action`` with the record's files.

    :param record: the record (a deleted one answers 410).
    :param action: :data:`READ`, :data:`UPDATE` or :data:`VERSIONS`.
    :param endpoint: the record's Invenio-Records-REST endpoint
        configuration, handed to the permission factory.
    """
    model = getattr(record, "model", None)
    if model is None or model.is_deleted:
        return Decision(False, 410, "The record has been deleted.")
    needed = needed_permission(action)
    settings = current().access
    factory = obj_or_import_string(settings.permission_factory)
    permission = factory(record=record, action=needed, endpoint=endpoint or {})
    # Ask Invenio-Access last: the record's own permission usually settles it.
    superuser = None
    if not _grants(permission):
        superuser = is_superuser()
        if not superuser:
            return _refusal(action)
    if action != UPDATE and files_restricted(record):
        restricted = obj_or_import_string(settings.restricted_permission_factory)
        permission = restricted(record=record, action=action, endpoint=endpoint or {})
        if not _grants(permission):
            if superuser is None:
                superuser = is_superuser()
            if not superuser:
                return _restricted_refusal()
    if needed == UPDATE and _is_locked(record):
        return Decision(False, 403, "The files of this record are locked.", locked=True)
    return ALLOWED


def may_read_files(record: Any) -> bool:
    """Whether the current user may read the record's files (its endpoint's rules).

    What :mod:`invenio_records_files_ext.access.visibility` asks before showing a
    restricted file's entry whole.
    """
    endpoint = linked.endpoint_of(record.id) if getattr(record, "id", None) else None
    options = endpoint.options if endpoint is not None else {}
    return decide(record, READ, options).allowed


def decide_for_bucket(bucket_id: Any, action: str) -> Optional[Decision]:
    """Decide ``action`` on a linked bucket; ``None`` if it is not linked."""
    link = linked.find(bucket_id)
    if link is None:
        return None
    return decide_for_link(link, action)


def decide_for_link(link: linked.LinkedBucket, action: str) -> Decision:
    """Decide ``action`` on the linked bucket's record.

    The files view's own decision of this request (``link.decided``), when
    it made one for this action, is the answer: it was made on the same
    record for the same user, and one decision per action is what a
    request costs.
    """
    decided = link.decided.get(action)
    if decided is None:
        decided = decide(link.record, action, _options(link))
    return cast(Decision, decided)


def _options(link: linked.LinkedBucket) -> Mapping[str, Any]:
    return link.endpoint.options if link.endpoint is not None else {}


def request_action(method: str, args: Mapping[str, Any], on_object: bool) -> str:
    """Return the action a files request asks for, before anything is loaded.

    ``?versionId=`` on a file is not settled here: it asks for
    :data:`VERSIONS` only when the version is not the current one, which
    is known once it is loaded.
    """
    if method.upper() not in READ_METHODS:
        return UPDATE
    if ("uploadId" if on_object else "uploads") in args:
        return UPDATE
    if not on_object and "versions" in args:
        return VERSIONS
    return READ


def bucket_id_of(obj: Any) -> Optional[uuid.UUID]:
    """Return the bucket a Files-REST object belongs to, ``None`` for others."""
    if isinstance(obj, Bucket):
        return linked.as_bucket_id(obj.id)
    if isinstance(obj, (ObjectVersion, MultipartObject)):
        return linked.as_bucket_id(obj.bucket_id)
    return None


class LinkedBucketPermission:
    """Files-REST permission on a linked bucket: the record decides."""

    def __init__(self, link: linked.LinkedBucket, action: str) -> None:
        """Keep the link and the record action."""
        self.link = link
        self.action = action

    def can(self) -> bool:
        """Return whether :func:`decide_for_link` allows the action."""
        return decide_for_link(self.link, self.action).allowed


class FilesRestPermissionFactory:
    """``FILES_REST_PERMISSION_FACTORY`` that lets records decide for their buckets.

    Called as Invenio-Files-REST calls its factory, ``factory(obj, action)``.
    For an object of a bucket linked to a record it returns a
    :class:`LinkedBucketPermission`; for anything else it returns what the
    configured factory (``inner``) returns.
    """

    def __init__(self, app: Flask, inner: Optional[Callable[..., Any]] = None):
        """Wrap ``inner`` (loaded from the configuration when first needed)."""
        self.app = app
        self._inner = inner

    @property
    def inner(self) -> Callable[..., Any]:
        """The wrapped factory, ``FILES_REST_PERMISSION_FACTORY`` as configured."""
        if self._inner is None:
            self._inner = obj_or_import_string(
                self.app.config["FILES_REST_PERMISSION_FACTORY"]
            )
        return self._inner

    def __call__(self, obj: Any, action: str) -> Any:
        """Return the permission for ``action`` on ``obj``."""
        bucket_id = bucket_id_of(obj)
        if bucket_id is not None:
            link = linked.find(bucket_id)
            if link is not None:
                return LinkedBucketPermission(
                    link, FILES_REST_ACTIONS.get(action, UPDATE)
                )
        return self.inner(obj, action)


def install(app: Flask) -> bool:
    """Wrap Invenio-Files-REST's permission factory of ``app`` (idempotent).

    :returns: whether Invenio-Files-REST is initialised on ``app`` (nothing
        to wrap otherwise yet).
    """
    state = app.extensions.get("invenio-files-rest")
    if state is None:
        return False
    current = state.__dict__.get("permission_factory")
    if not isinstance(current, FilesRestPermissionFactory):
        state.permission_factory = FilesRestPermissionFactory(app, inner=current)
    return True


__all__ = (
    "ACTIONS",
    "ALLOWED",
    "Decision",
    "FILES_REST_ACTIONS",
    "FilesRestPermissionFactory",
    "LinkedBucketPermission",
    "READ",
    "UPDATE",
    "VERSIONS",
    "bucket_id_of",
    "decide",
    "decide_for_bucket",
    "decide_for_link",
    "install",
    "may_read_files",
    "needed_permission",
    "request_action",
)
