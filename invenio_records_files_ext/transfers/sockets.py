"""Sockets whose every read keeps to a deadline.

A socket timeout bounds one ``recv``, not a download: a source sending a
byte every half second never lets a 2 s timeout pass, and
:mod:`http.client` reads a line or a buffer in many ``recv`` calls. The
sockets here set their timeout before *each* read to what is left before
the deadline, capped by the longest silence allowed, so a fetch ends at its
deadline whatever the source does.
"""

from __future__ import annotations

import math
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # The mixin is always mixed into a socket: mypy checks its calls
    # against ``socket.socket``'s.
    _Socket = socket.socket
else:
    _Socket = object


class DeadlineExceeded(TimeoutError):
    """The whole fetch took longer than its deadline."""


class _DeadlineReads(_Socket):
    """Sets the timeout of the socket before each read (a mixin)."""

    deadline: float = math.inf
    """``time.monotonic()`` value after which no read starts."""

    read_timeout: float = math.inf
    """Longest a single read may wait for data."""

    def arm(self, deadline: float, read_timeout: float) -> None:
        """Keep every later read within ``deadline`` and ``read_timeout``."""
        self.deadline = deadline
        self.read_timeout = read_timeout

    def _before_read(self) -> None:
        if self.deadline == math.inf:
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("the deadline has passed")
        self.settimeout(min(remaining, self.read_timeout))

    def recv(self, *args: Any, **kwargs: Any) -> Any:
        """Read, within the deadline."""
        self._before_read()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args: Any, **kwargs: Any) -> Any:
        """Read into a buffer, within the deadline (what file objects call)."""
        self._before_read()
        return super().recv_into(*args, **kwargs)


class DeadlineSocket(_DeadlineReads, socket.socket):
    """A TCP socket whose reads keep to a deadline."""

    @classmethod
    def adopt(cls, sock: socket.socket) -> DeadlineSocket:
        """Take over a connected socket (``sock`` is detached)."""
        timeout = sock.gettimeout()
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.settimeout(timeout)
        return adopted


class DeadlineSSLSocket(_DeadlineReads, ssl.SSLSocket):
    """A TLS socket whose reads keep to a deadline.

    Made by a context whose ``sslsocket_class`` is this class; armed once
    the handshake is done (which the connect timeout bounds).
    """


def tls_context() -> ssl.SSLContext:
    """Return the default (verifying) context, making deadline sockets."""
    context = ssl.create_default_context()
    context.sslsocket_class = DeadlineSSLSocket
    return context


__all__ = ("DeadlineExceeded", "DeadlineSSLSocket", "DeadlineSocket", "tls_context")
