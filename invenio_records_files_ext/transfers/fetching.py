"""Fetching a file from a URL, within limits, for fetch transfers.

A fetch makes the application open connections chosen by a user, so it is
fenced in:

* only URLs that :func:`~.addresses.parse_url` accepts, whose host is in
  ``RECORDS_FILES_FETCH_ALLOWED_HOSTS``;
* the host name is resolved once and every address it resolves to must be
  a global one (:func:`~.addresses.refusal`: no loopback, private, shared
  ``100.64.0.0/10``, link-local, site-local, multicast or reserved address,
  also when wrapped in an IPv6 form) unless
  ``RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES`` is set; the connection
  then goes to the address that was checked, so a second resolution cannot
  point it elsewhere (DNS rebinding);
* redirects are followed by hand, at most
  ``RECORDS_FILES_FETCH_MAX_REDIRECTS``, each target checked like the first
  URL;
* the body may not be larger than ``RECORDS_FILES_FETCH_MAX_SIZE`` (nor
  than the bucket allows); the whole fetch may not last longer than
  ``RECORDS_FILES_FETCH_TIMEOUT`` seconds, enforced on every socket read
  (:mod:`.sockets`), and no read may wait longer than
  ``RECORDS_FILES_FETCH_READ_TIMEOUT``.

Any failure raises :class:`~invenio_records_files_ext.errors.TransferFailedError`
(:class:`~invenio_records_files_ext.errors.TransientTransferError` when
trying again may help) with a message fit to show the record's writers: it
names the source by scheme and host only, never its path, query or
credentials.

Why the guard is our own and not a library: the one made for this
(Advocate, a wrapper around Requests) was archived by its author in
August 2023 and is no longer maintained; Requests and urllib3 alone check
no address, resolve a host again on each connection and bound one socket
read, not a whole fetch. The rules here are few and written once:
:mod:`.addresses` (what a URL and an address may be), :mod:`.sockets`
(the deadline on every read) and this module (resolve once, connect to
the address checked, redirects by hand).
"""

from __future__ import annotations

import http.client
import ipaddress
import math
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, Optional
from urllib.parse import urljoin

from ..errors import (
    InvalidTransferError,
    TransferFailedError,
    TransientTransferError,
    describe,
)
from ..settings.fetch import FetchLimits
from .addresses import TransferURL, check_transfer_url, refusal
from .sockets import DeadlineExceeded, DeadlineSocket, tls_context

REDIRECTS = frozenset((301, 302, 303, 307, 308))
ALLOWED_HOSTS_SETTING = "RECORDS_FILES_FETCH_ALLOWED_HOSTS"
READ_SIZE = 1024 * 1024
"""Most bytes asked of the socket at once."""


def resolve(source: TransferURL, limits: FetchLimits) -> str:
    """Return the address to connect to, after checking every address of the host.

    :raises invenio_records_files_ext.errors.TransferFailedError: the name
        does not resolve, or resolves to an address that is not allowed.
    """
    host = source.host
    try:
        found = socket.getaddrinfo(host, source.effective_port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise TransientTransferError(
            "The host {0!r} could not be resolved ({1}).".format(host, describe(error))
        ) from error
    addresses = []
    for *_, sockaddr in found:
        # An IPv4 or IPv6 socket address starts with the host as text
        # (``int`` only for other families, which SOCK_STREAM lookups of a
        # host name do not return); an IPv6 one may end in ``%scope``.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = refusal(address)
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
    """An HTTP connection to an address checked beforehand, reads on a deadline."""

    def __init__(
        self, host: str, port: int, address: str, limits: FetchLimits, deadline: float
    ):
        super().__init__(host, port, timeout=limits.connect_timeout)
        self._address = address
        self._limits = limits
        self._deadline = deadline

    def _open_socket(self) -> socket.socket:
        timeout = min(self._limits.connect_timeout, self._remaining())
        sock = socket.create_connection((self._address, self.port), timeout=timeout)
        return DeadlineSocket.adopt(sock)

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("the deadline has passed")
        return remaining

    def _arm(self, sock: Any) -> Any:
        sock.arm(self._deadline, self._limits.read_timeout)
        return sock

    def connect(self) -> None:
        """Connect to the checked address, not to a fresh resolution."""
        self.sock = self._arm(self._open_socket())


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """An HTTPS connection to a checked address, verified for the host name."""

    default_port = 443

    def connect(self) -> None:
        """Connect, then verify the server's certificate for the host name."""
        tls = tls_context().wrap_socket(self._open_socket(), server_hostname=self.host)
        self.sock = self._arm(tls)


def _timed_out(source: TransferURL, limits: FetchLimits) -> TransferFailedError:
    return TransferFailedError(
        "Fetching from {0} took longer than {1:g} seconds "
        "(RECORDS_FILES_FETCH_TIMEOUT).".format(source.origin, limits.timeout)
    )


def _failure(
    source: TransferURL,
    limits: FetchLimits,
    doing: str,
    error: BaseException,
    deadline: float,
) -> TransferFailedError:
    """The error to raise for ``error``, naming the source by its origin only."""
    # A read times out at the deadline when less than a read's wait is left.
    if isinstance(error, DeadlineExceeded) or (
        isinstance(error, TimeoutError) and time.monotonic() >= deadline - 0.01
    ):
        return _timed_out(source, limits)
    if isinstance(error, TimeoutError):
        return TransientTransferError(
            "The source {0} sent nothing for {1:g} seconds "
            "(RECORDS_FILES_FETCH_READ_TIMEOUT).".format(
                source.origin, limits.read_timeout
            )
        )
    kind = (
        TransientTransferError
        if isinstance(error, (ConnectionError, http.client.HTTPException))
        else TransferFailedError
    )
    return kind("{0} {1} failed: {2}".format(doing, source.origin, describe(error)))


class FetchedBody:
    """The body of a fetched file: a stream that keeps within the limits."""

    def __init__(
        self,
        response: Any,
        limits: FetchLimits,
        source: TransferURL,
        on_read: Optional[Callable[[int], None]] = None,
        deadline: float = math.inf,
    ) -> None:
        """Wrap an :class:`http.client.HTTPResponse` from ``source``.

        :param on_read: called with the bytes read so far after each read
            (the job renews its lease there).
        """
        self.response = response
        self.limits = limits
        self.source = source
        self.on_read = on_read
        self.deadline = deadline
        self.read_bytes = 0
        length = response.getheader("Content-Length")
        self.length = int(length) if length and length.isdigit() else None

    @property
    def url(self) -> str:
        """The URL read (after redirects), as stored."""
        return self.source.url

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes, failing past the size or time limit.

        One read of the socket at most: a short answer is no end of file.
        """
        size = min(size, READ_SIZE) if size and size > 0 else READ_SIZE
        try:
            data = self.response.read1(size)
        except (OSError, http.client.HTTPException) as error:
            raise _failure(
                self.source, self.limits, "Reading from", error, self.deadline
            ) from error
        if not data and self.length is not None and self.read_bytes < self.length:
            # http.client returns b"" when the server hangs up early.
            raise TransientTransferError(
                "The transfer from {0} failed: the connection closed after {1} "
                "of {2} bytes.".format(self.source.origin, self.read_bytes, self.length)
            )
        self.read_bytes += len(data)
        maximum = self.limits.max_size
        if maximum is not None and self.read_bytes > maximum:
            raise TransferFailedError(
                "The file is larger than {0} bytes (RECORDS_FILES_FETCH_MAX_SIZE).".format(
                    maximum
                )
            )
        if self.on_read is not None:
            self.on_read(self.read_bytes)
        return bytes(data)


def check_source(url: Any, limits: FetchLimits) -> TransferURL:
    """Parse a URL to fetch and check its host against the limits.

    :raises invenio_records_files_ext.errors.TransferFailedError: refused.
    """
    try:
        return check_transfer_url(url, limits.allowed_hosts, ALLOWED_HOSTS_SETTING)
    except InvalidTransferError as error:
        raise TransferFailedError(error.message) from error


def _request(
    source: TransferURL, limits: FetchLimits, deadline: float
) -> tuple[Any, Any]:
    if source.address is not None:
        reason = refusal(source.address)
        if reason is not None and not limits.allow_private:
            raise TransferFailedError(
                "{0} is {1} address; fetching from it is not allowed.".format(
                    source.host, reason
                )
            )
        address = source.host
    else:
        address = resolve(source, limits)
    kind = _PinnedHTTPSConnection if source.scheme == "https" else _PinnedHTTPConnection
    connection = kind(source.host, source.effective_port, address, limits, deadline)
    headers = {"User-Agent": "invenio-records-files-ext", "Accept-Encoding": "identity"}
    try:
        connection.request("GET", source.request_target, headers=headers)
        return connection, connection.getresponse()
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise _failure(source, limits, "Fetching from", error, deadline) from error


def _answer_error(source: TransferURL, response: Any) -> TransferFailedError:
    kind = TransientTransferError if response.status >= 500 else TransferFailedError
    return kind(
        "{0} answered HTTP {1} {2}.".format(
            source.origin, response.status, response.reason
        )
    )


@contextmanager
def open_url(
    url: str, limits: FetchLimits, on_read: Optional[Callable[[int], None]] = None
) -> Iterator[FetchedBody]:
    """Open ``url`` within ``limits``; yield its body as a stream.

    :param on_read: handed to :class:`FetchedBody`.
    :raises invenio_records_files_ext.errors.TransferFailedError: a URL is
        not allowed, the server answers anything but 200, or a limit is
        passed.
    """
    deadline = time.monotonic() + limits.timeout
    source = check_source(url, limits)
    for _ in range(limits.max_redirects + 1):
        connection, response = _request(source, limits, deadline)
        try:
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise TransferFailedError(
                        "{0} redirects nowhere (no Location).".format(source.origin)
                    )
                source = check_source(urljoin(source.url, location), limits)
                continue
            if response.status != 200:
                raise _answer_error(source, response)
            body = FetchedBody(response, limits, source, on_read, deadline)
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


__all__ = ("FetchLimits", "FetchedBody", "check_source", "open_url", "resolve")
