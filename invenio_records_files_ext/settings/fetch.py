"""What a fetch transfer may do: :class:`FetchLimits`.

The fetching itself lives in :mod:`invenio_records_files_ext.transfers.fetching`
(which exports this class too); the limits are part of the settings tree
(``settings.fetch``), read from the ``RECORDS_FILES_FETCH_*`` keys. Built
by hand, they take the defaults of :mod:`invenio_records_files_ext.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .. import config as defaults
from .reading import Reader


@dataclass(frozen=True)
class FetchLimits:
    """What a fetch may do."""

    allowed_hosts: tuple[str, ...] = tuple(defaults.RECORDS_FILES_FETCH_ALLOWED_HOSTS)
    allow_private: bool = defaults.RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES
    max_size: Optional[int] = defaults.RECORDS_FILES_FETCH_MAX_SIZE
    """Largest body, in bytes (``None``: no limit but the bucket's)."""
    timeout: float = float(defaults.RECORDS_FILES_FETCH_TIMEOUT)
    """Seconds the whole fetch may take."""
    connect_timeout: float = float(defaults.RECORDS_FILES_FETCH_CONNECT_TIMEOUT)
    read_timeout: float = float(defaults.RECORDS_FILES_FETCH_READ_TIMEOUT)
    """Seconds one read may wait for data."""
    max_redirects: int = defaults.RECORDS_FILES_FETCH_MAX_REDIRECTS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FetchLimits:
        """Read the limits from an application's configuration."""
        return cls.read(Reader(config))

    @classmethod
    def read(cls, reader: Reader) -> FetchLimits:
        """Read the limits with ``reader``."""
        return cls(
            allowed_hosts=reader.strings("RECORDS_FILES_FETCH_ALLOWED_HOSTS"),
            allow_private=reader.flag("RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES"),
            max_size=reader.optional_integer("RECORDS_FILES_FETCH_MAX_SIZE"),
            timeout=reader.number("RECORDS_FILES_FETCH_TIMEOUT"),
            connect_timeout=reader.number("RECORDS_FILES_FETCH_CONNECT_TIMEOUT"),
            read_timeout=reader.number("RECORDS_FILES_FETCH_READ_TIMEOUT"),
            max_redirects=reader.integer("RECORDS_FILES_FETCH_MAX_REDIRECTS"),
        )


__all__ = ("FetchLimits",)
