"""Test users and record permissions: who may read and update a record."""

from collections.abc import Mapping
from typing import Any

import pytest
from flask import Flask, Request
from flask_login import UserMixin, current_user


class User(UserMixin):  # type: ignore[misc]  # Flask-Login ships no types
    """A user known by name, logged in with the ``X-Test-User`` header."""

    # No row in accounts_user: SQLAlchemy-Continuum records ``id`` as the
    # author of each transaction, so it must stay NULL.
    id = None

    def __init__(self, name: str) -> None:
        """Create the user ``name``."""
        self.name = name

    def get_id(self) -> str:
        """Return the user's name."""
        return self.name


def load_user_from_request(request: Request) -> "User | None":
    """Flask-Login request loader for the tests."""
    name = request.headers.get("X-Test-User")
    return User(name) if name else None


def as_user(name: str) -> dict[str, str]:
    """Headers that log ``name`` in."""
    return {"X-Test-User": name}


class Allowed:
    """A permission that allows or not."""

    def __init__(self, allowed: object) -> None:
        """Store the decision."""
        self.allowed = bool(allowed)

    def can(self) -> bool:
        """Return the decision."""
        return self.allowed


def _is_owner(record: Mapping[str, Any]) -> bool:
    owner: bool = current_user.is_authenticated and current_user.get_id() in record.get(
        "owners", []
    )
    return owner


def read_permission_factory(record: Any = None) -> Allowed:
    """Public records are readable by all, others by their owners."""
    return Allowed(record.get("public") or _is_owner(record))


def update_permission_factory(record: Any = None) -> Allowed:
    """Only owners may update a record."""
    return Allowed(_is_owner(record))


def owner_permissions(monkeypatch: pytest.MonkeyPatch, app: Flask) -> None:
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
    # Flask-Login sets the attribute on the application; Flask does not declare it.
    monkeypatch.setattr(app.login_manager, "_request_callback", load_user_from_request)  # type: ignore[attr-defined]  # set by Flask-Login
