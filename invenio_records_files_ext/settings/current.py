"""The settings of an application, of the current one, and the defaults.

:func:`settings_for` reads an application's settings once and keeps them
in ``app.extensions``; each call compares the configured values of the
keys the tree reads with the ones it was built from (a tuple of some
seventy values, a few microseconds) and builds the tree again when one
changed, so a test or a site that changes ``app.config`` at run time is
seen at once. Lists and dicts are compared with a copy taken when the
tree was built, so a value changed in place is seen too.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Flask, current_app, has_app_context

from .reading import FOREIGN_KEYS, KEYS
from .tree import Settings

EXTENSION = "invenio-records-files-settings"
"""Where :func:`settings_for` keeps an application's settings."""

WATCHED: tuple[str, ...] = KEYS + FOREIGN_KEYS
"""The keys whose values the cached settings were built from."""


class _Missing:
    """A key the configuration lacks (compares equal to itself only)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _snapshot(value: Any) -> Any:
    """``value`` with its lists, dicts and sets copied (their items too)."""
    if isinstance(value, dict):
        return {key: _snapshot(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_snapshot(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return type(value)(value)
    if isinstance(value, tuple):
        return tuple(_snapshot(item) for item in value)
    return value


def settings_for(app: Flask) -> Settings:
    """Return the settings of ``app``, built again if its configuration changed."""
    config = app.config
    values = tuple([config.get(name, _MISSING) for name in WATCHED])
    cached = app.extensions.get(EXTENSION)
    if cached is not None and cached[0] == values:
        settings: Settings = cached[1]
        return settings
    settings = Settings.from_config(config)
    app.extensions[EXTENSION] = (_snapshot(values), settings)
    return settings


def current() -> Settings:
    """Return the settings of the current application (in an application context)."""
    return settings_for(current_app)


@lru_cache(maxsize=1)
def defaults() -> Settings:
    """Return the defaults of :mod:`invenio_records_files_ext.config` as settings."""
    return Settings.from_config({})


def current_or_defaults() -> Settings:
    """Return the current application's settings, the defaults outside one."""
    return current() if has_app_context() else defaults()


__all__ = (
    "EXTENSION",
    "WATCHED",
    "current",
    "current_or_defaults",
    "defaults",
    "settings_for",
)
