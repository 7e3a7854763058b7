"""Permission factories for a record's files.

:func:`record_permission_factory` (the default of
``RECORDS_FILES_REST_PERMISSION_FACTORY``) takes the record endpoint's own
read and update permissions: who may read a record may list and download
its files, who may update it may change them.
:func:`owner_permission_factory` is a ready rule for the common case "the
record's owners may change it". :func:`is_superuser` tells whether the
current user holds Invenio-Access's ``superuser-access``.

How these combine into one decision, on every route, is
:mod:`invenio_records_files_ext.access.decisions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from flask import abort, current_app
from flask_login import current_user
from invenio_records_rest.proxies import current_records_rest
from invenio_records_rest.utils import check_search, obj_or_import_string

from ..settings.current import current

_ENDPOINT_OPTION = {
    "read": "read_permission_factory_imp",
    "update": "update_permission_factory_imp",
}


class Decided:
    """A permission whose answer is already known."""

    def __init__(self, allowed: bool) -> None:
        """Keep the answer."""
        self.allowed = bool(allowed)

    def can(self) -> bool:
        """Return the answer."""
        return self.allowed


def _database_read_check(record: Any = None, **kwargs: Any) -> Decided:
    # Invenio-Records-REST's default read check asks the search cluster
    # whether the record exists. The files are served from the database,
    # where the record plainly exists (a deleted one never gets here).
    return Decided(True)


def record_permission_factory(
    record: Any = None,
    action: Optional[str] = None,
    endpoint: Optional[Mapping[str, Any]] = None,
) -> Any:
    """Return the endpoint's permission for ``action`` (``read``/``update``).

    Uses the endpoint's ``read_permission_factory_imp`` or
    ``update_permission_factory_imp``; when the endpoint sets none,
    Invenio-Records-REST's default for that action. Its default read check
    (:func:`~invenio_records_rest.utils.check_search`, "the record is in the
    search index") is answered from the database instead: the record
    exists, so it may be read. Files can then be read with no search
    cluster, and a cluster that is down does not turn reads into errors.
    """
    option = _ENDPOINT_OPTION[action or "read"]
    factory = obj_or_import_string((endpoint or {}).get(option))
    if factory is None:
        factory = getattr(current_records_rest, "{0}_permission_factory".format(action))
    if factory is check_search:
        factory = _database_read_check
    return factory(record=record) if factory else None


def restricted_files_permission_factory(
    record: Any = None,
    action: Optional[str] = None,
    endpoint: Optional[Mapping[str, Any]] = None,
) -> Any:
    """Who may read restricted or embargoed files: who may update the record.

    The default of ``RECORDS_FILES_RESTRICTED_PERMISSION_FACTORY``. It is
    asked *in addition to* the record's read permission, with ``action``
    ``"read"`` or ``"versions"``; superusers pass anyway.
    """
    return record_permission_factory(record=record, action="update", endpoint=endpoint)


def _owner_ids(record: Any) -> set[str]:
    value: Any = record
    for part in current().access.owners_field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            return set()
    if isinstance(value, (str, int)):
        value = [value]
    try:
        return {str(owner) for owner in value if isinstance(owner, (str, int))}
    except TypeError:
        return set()


def owner_permission_factory(record: Any = None, **kwargs: Any) -> Decided:
    """Allow the record's owners; for ``update_permission_factory_imp``.

    The owners are the user ids listed in the record's JSON under
    ``RECORDS_FILES_OWNERS_FIELD`` (``"owners"`` by default; a dotted path
    such as ``"access.owned_by"`` reaches into nested objects). Ids may be
    stored as numbers or strings. Anonymous users are never owners.
    Superusers pass anyway (see :mod:`~invenio_records_files_ext.access.decisions`).
    """
    user = logged_in_user()
    if record is None or user is None:
        return Decided(False)
    user_id = getattr(user, "id", None)
    return Decided(user_id is not None and str(user_id) in _owner_ids(record))


def logged_in_user() -> Any:
    """Return the logged-in user, or ``None``.

    Also ``None`` in applications without Flask-Login's login manager (the
    files routes then treat every request as anonymous instead of failing).
    """
    if getattr(current_app, "login_manager", None) is None:
        return None
    user = current_user._get_current_object()
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def is_superuser() -> bool:
    """Whether the current user holds Invenio-Access's ``superuser-access``.

    Always false in applications without Invenio-Access.
    """
    if "invenio-access" not in current_app.extensions:
        return False
    from invenio_access.permissions import Permission, superuser_access

    return bool(Permission(superuser_access).can())


def check_record_permission(permission: Any) -> None:
    """Abort with 401 (anonymous) or 403 unless ``permission`` allows."""
    if permission is not None and not permission.can():
        if logged_in_user() is None:
            abort(401, "You must be logged in to access the files of this record.")
        abort(403, "You do not have permission to access the files of this record.")


__all__ = (
    "Decided",
    "logged_in_user",
    "check_record_permission",
    "is_superuser",
    "owner_permission_factory",
    "record_permission_factory",
    "restricted_files_permission_factory",
)
