"""Checksums: reading what clients announce, and digesting bytes.

Invenio-Files-REST stores checksums as ``<algorithm>:<hex digest>`` (for
example ``md5:5eb6...``). Clients announce the MD5 of a body in a
``Content-MD5`` header (RFC 1864: base64 of the 16-byte digest; many send
the hex digest instead, which is accepted too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional

from .errors import ChecksumMismatchError, InvalidContentMD5Error

READ_SIZE = 1024 * 1024
"""Bytes read at a time when digesting: memory stays constant."""


def parse_content_md5(value: Optional[str]) -> str:
    """Return the hex digest announced by a Content-MD5 value.

    :raises invenio_records_files_ext.errors.InvalidContentMD5Error: if the
        value is neither the base64 nor the hex form of an MD5 digest.
    """
    value = (value or "").strip()
    if len(value) == 32:
        try:
            int(value, 16)
            return value.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise InvalidContentMD5Error(
            "Content-MD5 must be the base64 (or hex) MD5 digest of the body."
        )
    return raw.hex()


@dataclass(frozen=True)
class StoredChecksum:
    """A stored checksum split into algorithm and expected hex digest."""

    algorithm: str
    hexdigest: str

    @classmethod
    def parse(cls, checksum: Optional[str]) -> Optional[StoredChecksum]:
        """Split ``algorithm:hex``; ``None`` if it is not of that form."""
        algorithm, _, value = (checksum or "").partition(":")
        if not algorithm or not value:
            return None
        return cls(algorithm.lower(), value.lower())

    def new(self) -> Optional[Any]:
        """Return a new hash object for the algorithm, or ``None`` if unknown."""
        try:
            return hashlib.new(self.algorithm, usedforsecurity=False)
        except (ValueError, TypeError):
            return None


def digest_stream(
    fp: BinaryIO,
    digest: Any,
    advance: Optional[Callable[[int], None]] = None,
) -> int:
    """Feed a stream to a hash object in chunks; return the bytes read.

    With ``digest`` ``None`` the stream is only read (and counted).
    """
    read = 0
    for chunk in iter(lambda: fp.read(READ_SIZE), b""):
        if digest is not None:
            digest.update(chunk)
        read += len(chunk)
        if advance is not None:
            advance(len(chunk))
    return read


class MD5Reader:
    """A readable stream that computes the MD5 of what is read through it."""

    def __init__(self, stream: Any) -> None:
        """Wrap ``stream``."""
        self._stream = stream
        self._digest = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        """Read from the wrapped stream, digesting the bytes."""
        data: bytes = self._stream.read(size)
        self._digest.update(data)
        return data

    def hexdigest(self) -> str:
        """Return the MD5 hex digest of the bytes read so far."""
        return self._digest.hexdigest()


def md5_of_storage(storage: Any) -> str:
    """Return the MD5 hex digest of bytes in a storage object."""
    digest = hashlib.md5(usedforsecurity=False)
    with storage.open("rb") as fp:
        digest_stream(fp, digest)
    return digest.hexdigest()


def measure_storage(storage: Any) -> tuple[int, str]:
    """Read stored bytes once; return their size and checksum (``md5:<hex>``)."""
    digest = hashlib.md5(usedforsecurity=False)
    with storage.open("rb") as fp:
        size = digest_stream(fp, digest)
    return size, "md5:" + digest.hexdigest()


def verify_md5(storage: Any, checksum: Optional[str], expected: str) -> None:
    """Check stored bytes against the MD5 a client announced.

    The stored checksum is used when it is an MD5; other algorithms make
    the bytes be read again.

    :raises invenio_records_files_ext.errors.ChecksumMismatchError: if they
        differ.
    """
    stored = StoredChecksum.parse(checksum)
    actual = (
        stored.hexdigest
        if stored is not None and stored.algorithm == "md5"
        else md5_of_storage(storage)
    )
    if actual != expected:
        raise ChecksumMismatchError(expected, actual)


def file_matches(
    path: str, size: int, stored_size: Optional[int], checksum: Optional[str]
) -> bool:
    """Tell whether a local file has the stored size and checksum."""
    if stored_size != size:
        return False
    stored = StoredChecksum.parse(checksum)
    digest = stored.new() if stored is not None else None
    if stored is None or digest is None:
        return False
    with open(path, "rb") as fp:
        digest_stream(fp, digest)
    return bool(digest.hexdigest() == stored.hexdigest)
