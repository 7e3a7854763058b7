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

from ..errors import ChecksumMismatchError, InvalidContentMD5Error
from . import partsums
from .checksums import (
    announced_algorithms,
    configured_algorithms,
    new_hashes,
    save_checksums,
)
from .digests import Digests
from .writeloop import hash_stream

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


@dataclass(frozen=True)
class Measured:
    """The size and checksums of stored bytes, read back once."""

    size: int
    checksums: dict[str, str]
    """Algorithm -> hex digest, MD5 first."""

    @property
    def checksum(self) -> str:
        """Files-REST's form of the MD5: ``md5:<hex>``."""
        return "md5:" + self.checksums["md5"]


def measure_checksums(
    storage: Any, algorithms: Optional[tuple[str, ...]] = None
) -> Measured:
    """Read stored bytes once; return their size and checksums.

    Every algorithm of ``algorithms`` (default ``RECORDS_FILES_CHECKSUMS``;
    MD5 always) is computed from the same read, each in a thread of its
    own, while the next chunk is read (:func:`~invenio_records_files_ext.storage.writes.writeloop.hash_stream`).
    Keep them with :func:`~invenio_records_files_ext.storage.checksums.save_checksums`.
    """
    with Digests(new_hashes(algorithms or configured_algorithms())) as digests:
        with storage.open("rb") as fp:
            size = hash_stream(fp, digests, chunk_size=READ_SIZE)
    return Measured(size, digests.hexdigests())


def rehash_file(file_instance: Any, announced: Optional[str] = None) -> dict[str, str]:
    """Checksum a file instance's stored bytes again, and keep the checksums.

    For bytes assembled from parts (a multipart upload at its commit, or
    verified by a worker): every configured algorithm, plus the one of
    the ``announced`` checksum, in one read. Rows of algorithms no longer
    computed are dropped (the bytes are new). Returns algorithm -> hex.
    """
    algorithms = announced_algorithms(announced)
    storage = file_instance.storage()
    measured = running_checksums(storage, algorithms)
    if measured is None:
        measured = measure_checksums(storage, algorithms)
    save_checksums(file_instance, measured.checksums, replace=True)
    return measured.checksums


def running_checksums(storage: Any, algorithms: tuple[str, ...]) -> Optional[Measured]:
    """The checksums of a local file hashed while its parts were written.

    What :mod:`~invenio_records_files_ext.storage.partsums` holds for it, completed
    with the bytes it does not hold yet (read from where it stopped: none
    when every part came in order through this process). ``None`` when it
    holds nothing that can be trusted: the caller reads the whole file.
    """
    path: Optional[str] = getattr(storage, "local_path", None)
    running = partsums.take(path, algorithms) if path else None
    if running is None or path is None:
        return None
    with Digests(running.hashes) as digests:
        with open(path, "rb") as fp:
            fp.seek(running.offset)
            size = running.offset + hash_stream(fp, digests, chunk_size=READ_SIZE)
    found = digests.hexdigests()
    return Measured(size, {name: found[name] for name in algorithms})


def measure_storage(storage: Any) -> tuple[int, str]:
    """Read stored bytes once; return their size and checksum (``md5:<hex>``).

    MD5 only: :func:`measure_checksums` computes every configured algorithm.
    """
    measured = measure_checksums(storage, ("md5",))
    return measured.size, measured.checksum


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


def check_written_md5(checksum: Optional[str], expected: str) -> None:
    """Check the checksum a storage write returned against an announced MD5.

    For a multipart part: the storage's write loop hashed the part as it
    wrote it (``update()`` returns ``md5:<hex>`` of the bytes written), so
    nothing is hashed a second time.

    :raises invenio_records_files_ext.errors.ChecksumMismatchError: they
        differ, or the storage returned no MD5.
    """
    stored = StoredChecksum.parse(checksum)
    actual = (
        stored.hexdigest if stored is not None and stored.algorithm == "md5" else ""
    )
    if actual != expected:
        raise ChecksumMismatchError(expected, actual or "none")


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
