r"""Transfer URLs: parsed, checked and written again from their parts.

A fetch or remote transfer names a URL that the application later opens
(fetch) or sends browsers to (remote: a download answers ``302`` to it).
What one parser accepts another may read differently: browsers take a
backslash for a slash, ``evil.com\.data.example.org`` is then a path on
``evil.com``; a host that changes under NFKC normalisation
(``evil.com℀.example.org``) is a different host to an IDNA-aware client;
CR/LF in a ``Location`` header splits the answer. So :func:`parse_url`
accepts only the plain form every client reads the same way:

* printable ASCII only: no whitespace, no control character, no backslash,
  no character beyond ASCII (send host names in their ``xn--`` form and
  percent-encode the rest);
* ``http`` or ``https``, a host that is a valid host name or an IP literal
  (IPv4 dotted quad, ``[IPv6]`` without zone), a port from 1 to 65535;
* well-formed percent escapes.

The URL kept is :attr:`TransferURL.url`, written again from the parsed
parts (scheme and host in lower case, an IPv6 address in its compressed
form), so that what is stored, fetched and redirected to is what was checked.

:func:`refusal` tells whether an address is one the application may connect
to for a user: only *global* addresses, after unwrapping the IPv6 forms that
carry an IPv4 address (``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64
``64:ff9b::/96``, Teredo). Shared address space (``100.64.0.0/10``, where
cloud metadata services live), site-local ``fec0::/10``, multicast and
every private, reserved or documentation range are refused.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..errors import InvalidTransferURLError, RemoteURLRefusedError

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

MAX_LENGTH = 8192
"""Longest URL accepted (in characters)."""

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_USERINFO = re.compile(r"^[A-Za-z0-9\-._~%!$&'()*+,;=:]*$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Characters RFC 3986 does not allow in a path, query or fragment although
# they are printable ASCII: written percent-encoded in the stored URL.
_UNSAFE = {c: "%{0:02X}".format(ord(c)) for c in '"<>[]^`{|}'}


@dataclass(frozen=True)
class TransferURL:
    """A transfer URL, checked, in parts."""

    scheme: str
    """``http`` or ``https``."""

    host: str
    """Host name in lower case, or an IP address (IPv6 without brackets)."""

    port: Optional[int]
    """Port given in the URL, ``None`` for the scheme's default."""

    userinfo: str
    """``user:password`` given before the host (empty: none)."""

    path: str
    """Path, ``/`` at least."""

    query: str
    """Query, without ``?`` (empty: none)."""

    fragment: str
    """Fragment, without ``#`` (empty: none)."""

    address: Optional[Address] = None
    """The IP address when the host is an IP literal."""

    @property
    def netloc_host(self) -> str:
        """The host as written in a URL (IPv6 in brackets)."""
        if isinstance(self.address, ipaddress.IPv6Address):
            return "[{0}]".format(self.host)
        return self.host

    @property
    def effective_port(self) -> int:
        """The port connected to (the scheme's default when none is given)."""
        return self.port if self.port is not None else DEFAULT_PORTS[self.scheme]

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: all of the URL a message may show.

        Path, query and credentials may be secrets (signed URLs, tokens).
        """
        port = ":{0}".format(self.port) if self.port is not None else ""
        return "{0}://{1}{2}".format(self.scheme, self.netloc_host, port)

    @property
    def request_target(self) -> str:
        """What an HTTP request line names: path and query."""
        return self.path + ("?" + self.query if self.query else "")

    @property
    def url(self) -> str:
        """The URL written again from its parts (what is stored and used)."""
        userinfo = self.userinfo + "@" if self.userinfo else ""
        port = ":{0}".format(self.port) if self.port is not None else ""
        url = "{0}://{1}{2}{3}{4}".format(
            self.scheme, userinfo, self.netloc_host, port, self.request_target
        )
        return url + ("#" + self.fragment if self.fragment else "")


def _refuse(reason: str) -> InvalidTransferURLError:
    return InvalidTransferURLError("The transfer URL {0}.".format(reason))


def _check_characters(url: str) -> None:
    for position, char in enumerate(url):
        if char == "\\":
            raise _refuse(
                "holds a backslash (at character {0}); browsers read it as "
                "'/': write it %5C".format(position + 1)
            )
        if char.isspace():
            raise _refuse(
                "holds white space (at character {0}); percent-encode it".format(
                    position + 1
                )
            )
        if not " " < char < "\x7f":
            if ord(char) < 128 or unicodedata.category(char).startswith("C"):
                raise _refuse(
                    "holds a control character (at character {0})".format(position + 1)
                )
            raise _refuse(
                "holds a character beyond ASCII (at character {0}); write host "
                "names in their xn-- form and percent-encode the rest".format(
                    position + 1
                )
            )


def _check_normal_host(url: str) -> None:
    # Before the ASCII check, for the precise message: such a host names
    # another host (or a path: "\u2100" becomes "a/c") once normalised.
    netloc = re.split(r"[/?#]", url.partition("//")[2], maxsplit=1)[0]
    if unicodedata.normalize("NFKC", netloc) != netloc:
        raise _refuse("has a host that changes under Unicode (NFKC) normalisation")


def _host_name(host: str) -> str:
    name = host.lower()
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _refuse("has no valid host name or IP address")
    if labels[-1].isdigit():
        # Not a dotted quad, yet numeric: some clients would read an IP.
        raise _refuse("has a numeric host that is not an IPv4 address")
    return name


def _host(text: str) -> tuple[str, Optional[Address]]:
    if not text:
        raise _refuse("has no host")
    if text.startswith("["):
        if not text.endswith("]") or "%" in text:
            raise _refuse("has an IPv6 address that is not '[address]'")
        try:
            address6 = ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise _refuse("has an invalid IPv6 address") from None
        return str(address6), address6
    if all(part.isdigit() for part in text.split(".")):
        try:
            address4 = ipaddress.IPv4Address(text)
        except ValueError:
            raise _refuse("has an invalid IPv4 address") from None
        return str(address4), address4
    return _host_name(text), None


def _port(text: str) -> Optional[int]:
    if text == "":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _refuse("has an invalid port")
    return int(text)


def _split_netloc(netloc: str) -> tuple[str, str, str]:
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ("@" in userinfo or not _USERINFO.match(userinfo)):
        raise _refuse("has invalid credentials before its host")
    if hostport.startswith("["):
        host, bracket, rest = hostport.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _refuse("has an IPv6 address that is not '[address]'")
        return userinfo, host + "]", rest[1:]
    host, _, port = hostport.partition(":")
    if ":" in port:
        raise _refuse("has an IPv6 address that is not in brackets")
    return userinfo, host, port


def _rest(text: str) -> str:
    return "".join(_UNSAFE.get(char, char) for char in text)


def parse_url(url: object) -> TransferURL:
    """Check a transfer URL and return it in parts.

    :raises invenio_records_files_ext.errors.InvalidTransferURLError: (an
        :class:`~invenio_records_files_ext.errors.InvalidTransferError`, 400)
        the URL is not one to store; the message says why, without
        repeating the URL (it may carry credentials).
    """
    if not isinstance(url, str) or not url:
        raise InvalidTransferURLError("A transfer URL must be a non-empty string.")
    if len(url) > MAX_LENGTH:
        raise _refuse("is longer than {0} characters".format(MAX_LENGTH))
    _check_normal_host(url)
    _check_characters(url)
    if _PERCENT.search(url):
        raise _refuse("has a '%' that starts no percent escape (write %25)")
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in SCHEMES or not rest.startswith("//"):
        raise InvalidTransferURLError(
            "Only http:// and https:// URLs can be transferred."
        )
    rest = rest[2:]
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, host_text, port_text = _split_netloc(netloc)
    host, address = _host(host_text)
    return TransferURL(
        scheme=scheme,
        host=host,
        port=_port(port_text),
        userinfo=userinfo,
        path="/" + _rest(path),
        query=_rest(query),
        fragment=_rest(fragment),
        address=address,
    )


def host_allowed(url: Union[str, TransferURL], allowed: Any) -> bool:
    """Tell whether ``url``'s host is in ``allowed``.

    ``url`` is a URL or a parsed
    :class:`~invenio_records_files_ext.transfers.addresses.TransferURL`.
    Entries are host names (``data.example.org``), ``host:port``, or
    ``*.example.org`` for every host under a domain. Matching ignores case;
    a URL that :func:`~invenio_records_files_ext.transfers.addresses.parse_url`
    refuses is never allowed.
    """
    if not isinstance(url, TransferURL):
        try:
            url = parse_url(url)
        except InvalidTransferURLError:
            return False
    host = url.host
    for entry in allowed or ():
        entry = str(entry).lower()
        if entry == host or (
            url.port is not None and entry == "{0}:{1}".format(host, url.port)
        ):
            return True
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
    return False


def check_transfer_url(url: object, allowed: Any, setting: str) -> TransferURL:
    """Parse ``url`` (:func:`parse_url`) and refuse it unless its host is allowed.

    :param allowed: the allowed hosts (see :func:`host_allowed`).
    :param setting: the name of the configuration listing them, for the
        message.
    :raises invenio_records_files_ext.errors.InvalidTransferURLError: refused.
    """
    parsed = parse_url(url)
    if not host_allowed(parsed, allowed):
        raise InvalidTransferURLError(
            "The host {0!r} is not allowed ({1}).".format(parsed.host, setting)
        )
    return parsed


def remote_location(url: str) -> str:
    """Return where a download of a remote file may redirect, checked again.

    The stored URL is parsed again (:func:`parse_url`) before a browser is
    sent there: a URL stored before these rules is refused rather than
    redirected to. The host is not matched against today's
    ``RECORDS_FILES_REMOTE_ALLOWED_HOSTS``: narrowing that list refuses
    new remote files, not the downloads of those already published.

    :raises invenio_records_files_ext.errors.RemoteURLRefusedError: (409).
    """
    try:
        return parse_url(url).url
    except InvalidTransferURLError as error:
        raise RemoteURLRefusedError(
            "This remote file's URL is not one to redirect to. {0}".format(
                error.message
            )
        ) from error


def unwrap(address: Address) -> Address:
    """Return the IPv4 address an IPv6 one carries (mapped, 6to4, NAT64, Teredo).

    Any other address is returned as it is.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.teredo is not None:
            return address.teredo[1]
    return address


def refusal(address: Address) -> Optional[str]:
    """Tell why the application may not connect to ``address`` (``None``: it may).

    Only global unicast addresses are allowed, judged on the IPv4 address
    an IPv6 one carries (:func:`unwrap`).
    """
    inner = unwrap(address)
    for reason, refused in (
        ("a loopback", inner.is_loopback),
        ("an unspecified", inner.is_unspecified),
        ("a link-local", inner.is_link_local),
        ("a multicast", inner.is_multicast),
        ("a private", inner.is_private),
        ("a reserved", inner.is_reserved),
        (
            "a site-local",
            isinstance(inner, ipaddress.IPv6Address) and inner.is_site_local,
        ),
        ("a non-global", not inner.is_global),
    ):
        if refused:
            return reason
    return None


__all__ = (
    "Address",
    "MAX_LENGTH",
    "TransferURL",
    "check_transfer_url",
    "host_allowed",
    "parse_url",
    "refusal",
    "remote_location",
    "unwrap",
)
