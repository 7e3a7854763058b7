"""Record-level permissions for the files routes.

A user who may not read a record may not list or download its files; a
user who may not update it may not upload, change or delete them. These
checks come from the record's Invenio-Records-REST endpoint and apply on top
of Invenio-Files-REST's own ``FILES_REST_PERMISSION_FACTORY``.
"""

from flask import abort
from flask_login import current_user
from invenio_records_rest.proxies import current_records_rest
from invenio_records_rest.utils import obj_or_import_string

_ENDPOINT_OPTION = {
    "read": "read_permission_factory_imp",
    "update": "update_permission_factory_imp",
}


def record_permission_factory(record=None, action=None, endpoint=None):
    """Return the endpoint's permission for ``action`` (``read``/``update``).

    Uses the endpoint's ``read_permission_factory_imp`` or
    ``update_permission_factory_imp``; when the endpoint sets none,
    Invenio-Records-REST's default for that action.
    """
    option = _ENDPOINT_OPTION[action]
    factory = obj_or_import_string((endpoint or {}).get(option))
    if factory is None:
        factory = getattr(current_records_rest, "{0}_permission_factory".format(action))
    return factory(record=record) if factory else None


def check_record_permission(permission):
    """Abort with 401 (anonymous) or 403 unless ``permission`` allows."""
    if permission is not None and not permission.can():
        if not current_user.is_authenticated:
            abort(401, "You must be logged in to access the files of this record.")
        abort(403, "You do not have permission to access the files of this record.")
