"""Writing the bytes of new files, and checking them against the client.

Bytes are written through Invenio-Files-REST's storage factory, so any
backend it supports (local disk, invenio-s3, ...) works. Every write is
entered in the transaction ledger (:mod:`~invenio_records_files_ext.ledger`): if the transaction
does not commit, the bytes are deleted again.

:func:`pyfs_storage_factory` is Invenio-Files-REST's local storage with one
change: while a chunk is written to disk (and the next one read from the
client), the previous one is hashed in another thread, so an upload costs
about the slower of writing and hashing instead of their sum.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, NamedTuple, Optional, Protocol

from flask import current_app
from invenio_files_rest.helpers import chunk_size_or_default
from invenio_files_rest.models import FileInstance
from invenio_files_rest.storage import PyFSFileStorage
from invenio_files_rest.storage import pyfs_storage_factory as files_rest_pyfs_factory
from invenio_files_rest.storage.base import check_size, check_sizelimit

from . import ledger
from .hashing import parse_content_md5, verify_md5

DEFAULT_UPLOAD_CHUNK_SIZE = 1024 * 1024


class Readable(Protocol):
    """What storage reads a new file's bytes from: a binary ``read``."""

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes (all the rest if negative)."""
        ...


class WrittenBytes(NamedTuple):
    """Bytes written by :func:`write_bytes`, and what storage reported."""

    storage: Any
    """The Invenio-Files-REST storage object that holds them."""
    uri: str
    size: int
    """Bytes written."""
    checksum: str
    """``"<algorithm>:<hex digest>"``."""


def discard(file_id: Any) -> None:
    """Delete bytes written in this transaction for ``file_id``, if any."""
    storage = ledger.unstage(file_id)
    if storage is not None:
        ledger.delete_bytes(storage)


def write_bytes(
    fileinstance: FileInstance,
    location_uri: str,
    storage_class: str,
    stream: Readable,
    size: Optional[int] = None,
    size_limit: Any = None,
    content_md5: Optional[str] = None,
) -> WrittenBytes:
    """Write ``stream`` as the bytes of ``fileinstance``.

    :param fileinstance: a :class:`~invenio_files_rest.models.FileInstance`
        with an id; it is not modified, so a transient one may be used.
    :param size: the announced size; a body of another size is refused.
    :param size_limit: an ``int`` or
        :class:`~invenio_files_rest.limiters.FileSizeLimit`; writing stops
        with :class:`~invenio_files_rest.errors.FileSizeError` past it.
    :param content_md5: the client's Content-MD5; a mismatch raises
        :class:`~invenio_records_files_ext.errors.ChecksumMismatchError`.
    :returns: a :class:`WrittenBytes`.
    """
    # An empty Content-MD5 is refused like any other value that is no digest.
    expected_md5 = parse_content_md5(content_md5) if content_md5 is not None else None
    chunk_size = current_app.config.get(
        "RECORDS_FILES_UPLOAD_CHUNK_SIZE", DEFAULT_UPLOAD_CHUNK_SIZE
    )
    storage = fileinstance.storage(
        default_location=location_uri, default_storage_class=storage_class
    )
    ledger.stage(fileinstance.id, storage)
    try:
        uri, written, checksum = storage.save(
            stream, size=size, size_limit=size_limit, chunk_size=chunk_size
        )
        if expected_md5 is not None:
            verify_md5(storage, checksum, expected_md5)
    except BaseException:
        discard(fileinstance.id)
        raise
    return WrittenBytes(storage, uri, written, checksum)


class UploadTarget(NamedTuple):
    """Where the bytes of a new file go, read from its bucket beforehand."""

    location_uri: str
    storage_class: str
    size_limit: object
    """An ``int``, a :class:`~invenio_files_rest.limiters.FileSizeLimit`
    or ``None``."""

    @classmethod
    def of(cls, bucket: Any) -> UploadTarget:
        """Read what an upload into ``bucket`` needs, now."""
        return cls(bucket.location.uri, bucket.default_storage_class, bucket.size_limit)


def stage_file(
    target: UploadTarget,
    stream: Readable,
    size: Optional[int] = None,
    content_md5: Optional[str] = None,
) -> FileInstance:
    """Write a stream into a new, transient file instance.

    Nothing touches the database: the caller adds the returned file
    instance to the session when it attaches it to an object version, so a
    long upload holds no transaction open. The bytes are in the transaction
    ledger, hence deleted unless a transaction commits them.

    :param target: an :class:`UploadTarget`.
    """
    fileinstance = FileInstance(id=uuid.uuid4(), size=0)
    written = write_bytes(
        fileinstance,
        target.location_uri,
        target.storage_class,
        stream,
        size=size,
        size_limit=target.size_limit,
        content_md5=content_md5,
    )
    fileinstance.set_uri(
        written.uri,
        written.size,
        written.checksum,
        storage_class=target.storage_class,
    )
    return fileinstance


class HashingWhileWritingMixin:
    """Storage mixin: hash each chunk in a thread while it is written.

    A thread hashes chunk *n* while the request's thread writes it and
    reads chunk *n + 1* from the client. CPython's hash, file and socket
    functions release the GIL on large buffers, so these overlap; the
    digest is sequential, so one chunk at a time is hashed and memory stays
    at two chunks. The first chunk is hashed in the caller's thread: a
    stream that fits in one chunk (most files) never starts a thread.
    """

    def _write_stream(
        self,
        src,
        dst,
        size=None,
        size_limit=None,
        chunk_size=None,
        progress_callback=None,
    ):
        chunk_size = chunk_size_or_default(chunk_size)
        algorithm, digest = self._init_hash()
        written = 0
        hasher = None
        hashing = None
        try:
            while True:
                check_sizelimit(size_limit, written, size)
                chunk = src.read(chunk_size)
                if hashing is not None:
                    hashing.result()
                    hashing = None
                if not chunk:
                    break
                if written == 0:
                    digest.update(chunk)
                else:
                    if hasher is None:
                        hasher = ThreadPoolExecutor(max_workers=1)
                    hashing = hasher.submit(digest.update, chunk)
                dst.write(chunk)
                written += len(chunk)
                if progress_callback:
                    progress_callback(None, written)
        finally:
            if hasher is not None:
                # Waits for a chunk still being hashed, even on error.
                hasher.shutdown(wait=True)
        if progress_callback:
            progress_callback(written, written)
        check_size(written, size)
        return written, "{0}:{1}".format(algorithm, digest.hexdigest())


class HashingPyFSFileStorage(HashingWhileWritingMixin, PyFSFileStorage):
    """Invenio-Files-REST's local file storage, hashing while writing."""


pyfs_storage_factory = partial(
    files_rest_pyfs_factory, filestorage_class=HashingPyFSFileStorage
)
"""Storage factory for ``FILES_REST_STORAGE_FACTORY``: local files, faster
uploads (see :class:`HashingWhileWritingMixin`)."""
