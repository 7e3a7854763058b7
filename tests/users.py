"""Test users and record permissions: who may read and update a record."""

from flask_login import UserMixin, current_user


class User(UserMixin):
    """A user known by name, logged in with the ``X-Test-User`` header."""

    # No row in accounts_user: SQLAlchemy-Continuum records ``id`` as the
    # author of each transaction, so it must stay NULL.
    id = None

    def __init__(self, name):
        """Create the user ``name``."""
        self.name = name

    def get_id(self):
        """Return the user's name."""
        return self.name


def load_user_from_request(request):
    """Flask-Login request loader for the tests."""
    name = request.headers.get("X-Test-User")
    return User(name) if name else None


def as_user(name):
    """Headers that log ``name`` in."""
    return {"X-Test-User": name}


class Allowed:
    """A permission that allows or not."""

    def __init__(self, allowed):
        """Store the decision."""
        self.allowed = bool(allowed)

    def can(self):
        """Return the decision."""
        return self.allowed


def _is_owner(record):
    return current_user.is_authenticated and current_user.get_id() in record.get(
        "owners", []
    )


def read_permission_factory(record=None):
    """Public records are readable by all, others by their owners."""
    return Allowed(record.get("public") or _is_owner(record))


def update_permission_factory(record=None):
    """Only owners may update a record."""
    return Allowed(_is_owner(record))


def owner_permissions(monkeypatch, app):
    """Use the owner-based permissions on the ``recid`` endpoint.

    The changes go through ``monkeypatch`` (pytest's fixture, or one of its
    ``context()``), which undoes them.
    """
    endpoint = app.config["RECORDS_REST_ENDPOINTS"]["recid"]
    monkeypatch.setitem(
        endpoint, "read_permission_factory_imp", read_permission_factory
    )
    monkeypatch.setitem(
        endpoint, "update_permission_factory_imp", update_permission_factory
    )
    monkeypatch.setattr(app.login_manager, "_request_callback", load_user_from_request)
