"""One key at a time, from the configuration or the defaults of ``config``.

A :class:`Reader` answers each ``RECORDS_FILES_*`` key with the
application's value, or with the module attribute of
:mod:`invenio_records_files_ext.config` when the application does not set
it, converted to the type the settings tree holds. A value that cannot be
converted raises :class:`~invenio_records_files_ext.errors.ConfigurationError`
naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Callable, Optional, TypeVar

from .. import config as defaults
from ..errors import ConfigurationError

PREFIX = "RECORDS_FILES_"

KEYS: tuple[str, ...] = tuple(
    sorted(name for name in vars(defaults) if name.startswith(PREFIX))
)
"""Every key :mod:`invenio_records_files_ext.config` gives a default."""

FOREIGN_KEYS: tuple[str, ...] = ("FILES_REST_OBJECT_KEY_MAX_LEN",)
"""Keys of other packages the tree reads (no default of ours)."""

T = TypeVar("T")


def default(name: str) -> Any:
    """Return the default of ``name``, from :mod:`invenio_records_files_ext.config`."""
    return getattr(defaults, name)


class Reader:
    """Reads keys from ``config``, falling back to the defaults."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        """Read from ``config`` (an application's ``app.config``, or any mapping)."""
        self._config = config

    def raw(self, name: str) -> Any:
        """Return the value of ``name`` as configured, else its default."""
        if name in self._config:
            return self._config[name]
        return default(name)

    def foreign(self, name: str) -> Any:
        """Return the value of another package's key ``name`` (``None`` if unset)."""
        return self._config[name] if name in self._config else None

    def _converted(self, name: str, convert: Callable[[Any], T]) -> T:
        value = self.raw(name)
        try:
            return convert(value)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(
                "{0} cannot be {1!r}: {2}".format(name, value, error)
            ) from error

    def duration(self, name: str) -> timedelta:
        """Return ``name`` as a :class:`~datetime.timedelta` (given as one, or in seconds)."""
        return self._converted(
            name,
            lambda value: (
                value
                if isinstance(value, timedelta)
                else timedelta(seconds=float(value))
            ),
        )

    def integer(self, name: str) -> int:
        """Return ``name`` as an ``int``."""
        return self._converted(name, int)

    def integer_or_default(self, name: str) -> int:
        """Return ``name`` as an ``int``, its default when the value is empty (0, None)."""
        return self._converted(name, lambda value: int(value or default(name)))

    def optional_integer(self, name: str) -> Optional[int]:
        """Return ``name`` as an ``int``, or ``None``."""
        return self._converted(
            name, lambda value: None if value is None else int(value)
        )

    def number(self, name: str) -> float:
        """Return ``name`` as a ``float``."""
        return self._converted(name, float)

    def flag(self, name: str) -> bool:
        """Return ``name`` as a ``bool``."""
        return bool(self.raw(name))

    def text(self, name: str) -> str:
        """Return ``name`` as a ``str``."""
        return str(self.raw(name))

    def optional_text(self, name: str) -> Optional[str]:
        """Return ``name`` as a ``str``, ``None`` when empty."""
        value = self.raw(name)
        return str(value) if value else None

    def strings(self, name: str) -> tuple[str, ...]:
        """Return ``name`` as a tuple of strings (``None`` gives an empty one)."""
        return self._converted(name, lambda value: tuple(str(v) for v in value or ()))

    def items(self, name: str) -> tuple[Any, ...]:
        """Return ``name`` as a tuple (``None`` gives an empty one)."""
        return self._converted(name, lambda value: tuple(value or ()))

    def mapping(self, name: str) -> Mapping[str, Any]:
        """Return ``name`` as a mapping (``None`` gives an empty one)."""
        value = self.raw(name)
        return value if value else {}


__all__ = ("FOREIGN_KEYS", "KEYS", "PREFIX", "Reader", "default")
