"""The URL check of fetch and remote transfers: :func:`check_url`.

The schemas of :mod:`.fetch` and :mod:`.remote` call it for the announced
URL, and the fetch for every redirect it follows (:mod:`.fetching`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidTransferError


def host_allowed(url: str, allowed: Any) -> bool:
    """Tell whether ``url``'s host is in ``allowed``.

    Entries are host names (``data.example.org``), ``host:port``, or
    ``*.example.org`` for every host under a domain. Matching ignores case.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return False
    try:
        port = parts.port
    except ValueError:
        return False
    for entry in allowed or ():
        entry = str(entry).lower()
        if entry == host or (
            port is not None and entry == "{0}:{1}".format(host, port)
        ):
            return True
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
    return False


def check_url(url: Any, allowed: Any, setting: str) -> str:
    """Refuse a URL that is not ``http(s)`` or whose host is not allowed.

    :param setting: the name of the configuration listing the hosts, for
        the message.
    :raises invenio_records_files_ext.errors.InvalidTransferError: refused.
    """
    if not isinstance(url, str) or not url:
        raise InvalidTransferError("A transfer URL must be a non-empty string.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidTransferError(
            "Only http:// and https:// URLs can be transferred, not {0!r}.".format(url)
        )
    if not host_allowed(url, allowed):
        raise InvalidTransferError(
            "The host {0!r} is not allowed ({1}).".format(parts.hostname, setting)
        )
    return url


__all__ = ("check_url", "host_allowed")
