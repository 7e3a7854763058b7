"""Fetching a file from a URL, within limits, for fetch transfers.

A fetch makes the application open connections chosen by a user, so it is
fenced in:

* only ``http(s)`` URLs whose host is in ``RECORDS_FILES_FETCH_ALLOWED_HOSTS``;
* the host name is resolved once and every address it resolves to must be
  a public one (no loopback, private, link-local, multicast or reserved
  address) unless ``RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES`` is set;
  the connection then goes to the address that was checked, so a second
  resolution cannot point it elsewhere (DNS rebinding);
* redirects are followed by hand, at most
  ``RECORDS_FILES_FETCH_MAX_REDIRECTS``, each target checked like the first
  URL;
* the body may not be larger than ``RECORDS_FILES_FETCH_MAX_SIZE`` (nor
  than the bucket allows), and the whole fetch may not last longer than
  ``RECORDS_FILES_FETCH_TIMEOUT`` seconds.

Any failure raises :class:`~invenio_records_files_ext.errors.TransferFailedError`
with a message fit to show the user.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urljoin, urlsplit

from ..errors import InvalidTransferError, TransferFailedError, describe
from .requests import check_url

REDIRECTS = frozenset((301, 302, 303, 307, 308))
ALLOWED_HOSTS_SETTING = "RECORDS_FILES_FETCH_ALLOWED_HOSTS"


@dataclass(frozen=True)
class FetchLimits:
    """What a fetch may do."""

    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False
    max_size: Optional[int] = None
    timeout: float = 3600.0
    """Seconds the whole fetch may take."""
    connect_timeout: float = 10.0
    max_redirects: int = 5

    @classmethod
    def from_config(cls, config: Any) -> FetchLimits:
        """Read the limits from an application's configuration."""
        return cls(
            allowed_hosts=tuple(config.get(ALLOWED_HOSTS_SETTING) or ()),
            allow_private=bool(
                config.get("RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES", False)
            ),
            max_size=config.get("RECORDS_FILES_FETCH_MAX_SIZE"),
            timeout=float(config.get("RECORDS_FILES_FETCH_TIMEOUT", 3600)),
            connect_timeout=float(
                config.get("RECORDS_FILES_FETCH_CONNECT_TIMEOUT", 10)
            ),
            max_redirects=int(config.get("RECORDS_FILES_FETCH_MAX_REDIRECTS", 5)),
        )


def _refused(address: Any) -> Optional[str]:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for name, refused in (
        ("a loopback", address.is_loopback),
        ("a private", address.is_private),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
        ("an unspecified", address.is_unspecified),
    ):
        if refused:
            return name
    return None


def resolve(host: str, port: int, limits: FetchLimits) -> str:
    """Return the address to connect to, after checking every address of ``host``.

    :raises invenio_records_files_ext.errors.TransferFailedError: the name
        does not resolve, or resolves to an address that is not allowed.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise TransferFailedError(
            "The host {0!r} could not be resolved ({1}).".format(host, describe(error))
        ) from error
    addresses = []
    for *_, sockaddr in found:
        # An IPv4 or IPv6 socket address starts with the host as text
        # (``int`` only for other families, which SOCK_STREAM lookups of a
        # host name do not return); an IPv6 one may end in ``%scope``.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = _refused(address)
        if reason is not None and not limits.allow_private:
            raise TransferFailedError(
                "The host {0!r} resolves to {1} address ({2}); fetching from it is "
                "not allowed.".format(host, reason, address)
            )
        addresses.append(str(address))
    if not addresses:
        raise TransferFailedError("The host {0!r} has no address.".format(host))
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand."""

    def __init__(self, host: str, port: int, address: str, limits: FetchLimits):
        super().__init__(host, port, timeout=limits.timeout)
        self._address = address
        self._limits = limits

    def _open_socket(self) -> socket.socket:
        sock = socket.create_connection(
            (self._address, self.port), timeout=self._limits.connect_timeout
        )
        sock.settimeout(self._limits.timeout)
        return sock

    def connect(self) -> None:
        """Connect to the checked address, not to a fresh resolution."""
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """An HTTPS connection to a checked address, verified for the host name."""

    default_port = 443

    def connect(self) -> None:
        """Connect, then verify the server's certificate for the host name."""
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self._open_socket(), server_hostname=self.host)


class FetchedBody:
    """The body of a fetched file: a stream that keeps within the limits."""

    def __init__(
        self, response: Any, limits: FetchLimits, deadline: float, url: str
    ) -> None:
        """Wrap an :class:`http.client.HTTPResponse`."""
        self.response = response
        self.limits = limits
        self.deadline = deadline
        self.url = url
        self.read_bytes = 0
        length = response.getheader("Content-Length")
        self.length = int(length) if length and length.isdigit() else None

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes, failing past the size or time limit."""
        if time.monotonic() > self.deadline:
            raise TransferFailedError(
                "Fetching took longer than {0:g} seconds "
                "(RECORDS_FILES_FETCH_TIMEOUT).".format(self.limits.timeout)
            )
        try:
            data = self.response.read(size if size and size > 0 else 1024 * 1024)
        except (OSError, http.client.HTTPException) as error:
            raise TransferFailedError(
                "Reading {0} failed: {1}".format(self.url, describe(error))
            ) from error
        if not data and self.length is not None and self.read_bytes < self.length:
            # http.client returns b"" when the server hangs up early.
            raise TransferFailedError(
                "The transfer from {0} failed: the connection closed after {1} "
                "of {2} bytes.".format(self.url, self.read_bytes, self.length)
            )
        self.read_bytes += len(data)
        maximum = self.limits.max_size
        if maximum is not None and self.read_bytes > maximum:
            raise TransferFailedError(
                "The file is larger than {0} bytes (RECORDS_FILES_FETCH_MAX_SIZE).".format(
                    maximum
                )
            )
        return bytes(data)


def _request(url: str, limits: FetchLimits) -> tuple[Any, Any]:
    try:
        check_url(url, limits.allowed_hosts, ALLOWED_HOSTS_SETTING)
    except InvalidTransferError as error:
        raise TransferFailedError(error.message) from error
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    host = parts.hostname or ""
    address = resolve(host, port, limits)
    kind = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection = kind(host, port, address, limits)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    headers = {"User-Agent": "invenio-records-files-ext", "Accept-Encoding": "identity"}
    try:
        connection.request("GET", target, headers=headers)
        return connection, connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise TransferFailedError(
            "Could not fetch {0}: {1}".format(url, describe(error))
        ) from error


@contextmanager
def open_url(url: str, limits: FetchLimits) -> Iterator[FetchedBody]:
    """Open ``url`` within ``limits``; yield its body as a stream.

    :raises invenio_records_files_ext.errors.TransferFailedError: a URL is
        not allowed, the server answers anything but 200, or a limit is
        passed.
    """
    deadline = time.monotonic() + limits.timeout
    for _ in range(limits.max_redirects + 1):
        connection, response = _request(url, limits)
        try:
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise TransferFailedError(
                        "{0} redirects nowhere (no Location).".format(url)
                    )
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise TransferFailedError(
                    "{0} answered HTTP {1} {2}.".format(
                        url, response.status, response.reason
                    )
                )
            body = FetchedBody(response, limits, deadline, url)
            if (
                limits.max_size is not None
                and body.length is not None
                and body.length > limits.max_size
            ):
                raise TransferFailedError(
                    "The file is {0} bytes long, more than {1} "
                    "(RECORDS_FILES_FETCH_MAX_SIZE).".format(
                        body.length, limits.max_size
                    )
                )
            yield body
            return
        finally:
            response.close()
            connection.close()
    raise TransferFailedError(
        "Too many redirects (more than {0}, RECORDS_FILES_FETCH_MAX_REDIRECTS).".format(
            limits.max_redirects
        )
    )


__all__ = ("FetchLimits", "FetchedBody", "open_url", "resolve")
