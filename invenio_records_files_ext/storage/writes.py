"""Writing the bytes of new files, and checking them against the client.

Bytes are written through Invenio-Files-REST's storage factory, so any
backend it supports (local disk, invenio-s3, ...) works. Every write is
entered in the transaction ledger (:mod:`~invenio_records_files_ext.db.ledger`): if the transaction
does not commit, the bytes are deleted again.

:func:`pyfs_storage_factory` is Invenio-Files-REST's local storage with two
changes, which every upload path inherits (single uploads, three-step
content, multipart parts, fetches, bulk attach, ``record.files[key] =
stream``, Invenio-Files-REST's own routes):

* the write loop (:mod:`~invenio_records_files_ext.storage.writeloop`) hashes each
  chunk in threads while it is written and the next one read, and paces
  the file's writeback, so an upload costs about the slowest of reading,
  hashing and writing instead of their sum;
* with ``RECORDS_FILES_FSYNC`` (on by default) a write returns only once
  the file's bytes and new directory entries are on disk
  (:mod:`~invenio_records_files_ext.storage.writeback`), hence before the
  transaction that records the file commits.

The extension installs it in place of Invenio-Files-REST's own local
factory (:func:`install`).
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, Callable, NamedTuple, Optional, Protocol

from invenio_files_rest.errors import StorageError
from invenio_files_rest.models import FileInstance
from invenio_files_rest.storage import PyFSFileStorage
from invenio_files_rest.storage import pyfs_storage_factory as files_rest_pyfs_factory

from .. import config as defaults
from ..db import ledger
from ..settings.current import current_or_defaults
from . import partsums
from .checksums import configured_algorithms, new_hashes, save_checksums
from .digests import Digests, Hashing
from .hashing import parse_content_md5, verify_md5
from .writeback import Writeback, entries_to_sync, sync_directories, sync_file
from .writeloop import DEPTH, copy_stream, hash_stream

DEFAULT_UPLOAD_CHUNK_SIZE: int = defaults.RECORDS_FILES_UPLOAD_CHUNK_SIZE


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
    checksums: Mapping[str, str] = MappingProxyType({})
    """Algorithm -> hex digest, for every algorithm asked for (MD5 first)."""


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
    algorithms: Optional[tuple[str, ...]] = None,
) -> WrittenBytes:
    """Write ``stream`` as the bytes of ``fileinstance``.

    Every algorithm of ``algorithms`` (default: ``RECORDS_FILES_CHECKSUMS``)
    is computed in the one read of the stream: by the write loop with this
    package's local storage, by a reader around the stream with any other
    (whose own MD5 is kept).

    :param fileinstance: a :class:`~invenio_files_rest.models.FileInstance`
        with an id; it is not modified, so a transient one may be used.
    :param size: the announced size; a body of another size is refused.
    :param size_limit: an ``int`` or
        :class:`~invenio_files_rest.limiters.FileSizeLimit`; writing stops
        with :class:`~invenio_files_rest.errors.FileSizeError` past it.
    :param content_md5: the client's Content-MD5; a mismatch raises
        :class:`~invenio_records_files_ext.errors.ChecksumMismatchError`.
    :param algorithms: the checksums to compute (MD5 always is).
    :returns: a :class:`WrittenBytes`.
    """
    # An empty Content-MD5 is refused like any other value that is no digest.
    expected_md5 = parse_content_md5(content_md5) if content_md5 is not None else None
    chunk_size = upload_chunk_size()
    wanted = algorithms or configured_algorithms()
    storage = fileinstance.storage(
        default_location=location_uri, default_storage_class=storage_class
    )
    ledger.stage(fileinstance.id, storage)
    try:
        uri, written, checksum, checksums = save_hashed(
            storage,
            stream,
            wanted,
            size=size,
            size_limit=size_limit,
            chunk_size=chunk_size,
        )
        if expected_md5 is not None:
            verify_md5(storage, checksum, expected_md5)
    except BaseException:
        discard(fileinstance.id)
        raise
    return WrittenBytes(storage, uri, written, checksum, checksums)


def save_hashed(
    storage: Any, stream: Readable, algorithms: tuple[str, ...], **save: Any
) -> tuple[str, int, str, dict[str, str]]:
    """``storage.save(stream, **save)``, computing ``algorithms`` in that read.

    Returns ``(uri, size, checksum, checksums)``: what ``save`` returns,
    plus algorithm -> hex digest.
    """
    if isinstance(storage, HashingWhileWritingMixin):
        storage.algorithms = algorithms
        try:
            uri, written, checksum = storage.save(stream, **save)  # type: ignore[attr-defined]  # the storage class beside the mixin saves
        finally:
            storage.algorithms = None
        return uri, written, checksum, dict(storage.checksums)
    others = tuple(name for name in algorithms if name != "md5")
    if not others:
        uri, written, checksum = storage.save(stream, **save)
        return uri, written, checksum, dict(_column(checksum))
    with HashingReader(stream, others) as reader:
        uri, written, checksum = storage.save(reader, **save)
        checksums = dict(_column(checksum), **reader.hexdigests())
    return uri, written, checksum, checksums


def _descriptor(fp: Any) -> Optional[int]:
    try:
        return int(fp.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def _column(checksum: Optional[str]) -> dict[str, str]:
    algorithm, _, value = (checksum or "").partition(":")
    return {algorithm: value} if algorithm and value else {}


class HashingReader:
    """A stream that hashes what is read through it, in threads.

    For storage whose own write loop computes the MD5 only (Invenio-S3's,
    Invenio-Files-REST's): the other algorithms take each chunk as the
    storage reads it, in threads of their own, while it writes the chunk
    and reads the next. At most :data:`~invenio_records_files_ext.storage.writes.writeloop.DEPTH` chunks wait.
    """

    def __init__(self, stream: Readable, algorithms: tuple[str, ...]) -> None:
        """Read ``stream``, hashing with ``algorithms``."""
        self._stream = stream
        self._digests = Digests(
            {
                name: digest
                for name, digest in new_hashes(algorithms).items()
                if name in algorithms
            }
        )
        self._waiting: deque[Hashing] = deque()

    def read(self, size: int = -1, /) -> bytes:
        """Read from the stream; the bytes are handed to the hash threads."""
        while len(self._waiting) > DEPTH:
            self._waiting.popleft().wait()
        data = self._stream.read(size)
        if data:
            # bytes are never changed: the threads may hold them.
            self._waiting.append(self._digests.update(bytes(data)))
        return data

    def hexdigests(self) -> dict[str, str]:
        """Algorithm -> hex digest of all that was read (waits for the threads)."""
        while self._waiting:
            self._waiting.popleft().wait()
        return self._digests.hexdigests()

    def __enter__(self) -> HashingReader:
        """Return itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """End the hash threads."""
        self._waiting.clear()
        self._digests.close()


def update_part(
    storage: Any, stream: Readable, seek: int, size: int, part_checksum: bool = True
) -> Optional[str]:
    """Write a multipart part at ``seek``; return its MD5 (``md5:<hex>``).

    :param part_checksum: whether the caller needs the part's own MD5
        (Invenio-Files-REST's parts do; InvenioRDM's do not: with this
        package's storage the part is then hashed only for the file's
        checksums, see :mod:`~invenio_records_files_ext.storage.partsums`).
    """
    if part_checksum or not isinstance(storage, HashingWhileWritingMixin):
        return storage.update(stream, seek=seek, size=size)[1]  # type: ignore[no-any-return]  # Files-REST is untyped
    storage.algorithms = ()
    try:
        return storage.update(stream, seek=seek, size=size)[1]  # type: ignore[no-any-return]  # Files-REST is untyped
    finally:
        storage.algorithms = None


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
    algorithms: Optional[tuple[str, ...]] = None,
) -> FileInstance:
    """Write a stream into a new, transient file instance.

    Nothing touches the database: the caller adds the returned file
    instance to the session when it attaches it to an object version, so a
    long upload holds no transaction open. The bytes are in the transaction
    ledger, hence deleted unless a transaction commits them. Its
    checksums (every algorithm of ``algorithms``, default
    ``RECORDS_FILES_CHECKSUMS``) are kept with it
    (:func:`~invenio_records_files_ext.storage.checksums.save_checksums`).

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
        algorithms=algorithms,
    )
    fileinstance.set_uri(
        written.uri,
        written.size,
        written.checksum,
        storage_class=target.storage_class,
    )
    save_checksums(fileinstance, written.checksums)
    return fileinstance


def upload_chunk_size(chunk_size: Optional[int] = None) -> int:
    """``chunk_size``, else ``RECORDS_FILES_UPLOAD_CHUNK_SIZE`` (1 MiB).

    Invenio-Files-REST reads 5 MiB at a time when its callers name no size
    (multipart parts): the write loop holds a few chunks, so a smaller one
    keeps a worker's memory down at no cost in speed.
    """
    if chunk_size:
        return chunk_size
    return current_or_defaults().storage.upload_chunk_size


def durable_writes() -> bool:
    """Whether local writes are flushed to disk before they return.

    ``RECORDS_FILES_FSYNC`` of the current application; on outside one.
    """
    return current_or_defaults().storage.fsync


class HashingWhileWritingMixin:
    """Storage mixin: the write loop of :mod:`~invenio_records_files_ext.storage.writeloop`.

    Each chunk is read once and hashed in threads of its own while it is
    written and the next one read; with ``RECORDS_FILES_FSYNC`` on, the
    file's writeback is paced while it is written and the write returns
    once the bytes are on disk (:mod:`~invenio_records_files_ext.storage.writeback`).
    Used by ``save()`` and ``update()`` (multipart parts) alike.
    """

    checksums: dict[str, str]
    """Algorithm -> hex digest of the bytes of the last write."""

    algorithms: Optional[tuple[str, ...]] = None
    """The algorithms of the next write or checksum; ``None``: those of
    ``RECORDS_FILES_CHECKSUMS`` (:func:`save_hashed` sets it for one write)."""

    def _init_hashes(self) -> dict[str, Any]:
        """Return algorithm -> new hash object for a write, MD5 first.

        One read feeds them all, each in a thread of its own: the
        algorithms of :attr:`algorithms`, else of ``RECORDS_FILES_CHECKSUMS``.
        """
        return new_hashes(self.algorithms or configured_algorithms())

    _updating = False

    def update(self, *args: Any, **kwargs: Any) -> Any:
        """Write part of the file (a multipart part); see the module.

        The part is hashed with MD5 (what Invenio-Files-REST returns as a
        part's checksum; no hashing at all if :attr:`algorithms` is ``()``,
        when the caller needs none). When it follows the bytes already
        hashed for the file (:mod:`~invenio_records_files_ext.storage.partsums`),
        the file's own checksums take it too, in the same read, so that the
        commit need not read the file again.
        """
        saved = self.algorithms
        self.algorithms = ("md5",) if saved is None else saved
        self._updating = True
        try:
            return super().update(*args, **kwargs)  # type: ignore[misc]  # the storage class beside the mixin updates
        finally:
            self.algorithms = saved
            self._updating = False

    def _write_hashes(self) -> dict[str, Any]:
        if self.algorithms == ():
            return {}
        return self._init_hashes()

    def _write_stream(
        self,
        src: Any,
        dst: Any,
        size: Optional[int] = None,
        size_limit: Any = None,
        chunk_size: Optional[int] = None,
        progress_callback: Optional[Callable[[Optional[int], int], Any]] = None,
    ) -> tuple[int, Optional[str]]:
        fd = _descriptor(dst)
        start = dst.tell()
        writeback: Optional[Writeback] = None
        if durable_writes() and fd is not None:
            writeback = Writeback(fd, start=start, flush=dst.flush)
        hashes = self._write_hashes()
        feeding: Optional[partsums.Feeding] = None
        path = getattr(self, "local_path", None)
        if self._updating and fd is not None and path:
            algorithms = configured_algorithms()
            feeding = partsums.begin(
                path, fd, start, partial(new_hashes, algorithms), algorithms
            )
        fed = dict(hashes)
        if feeding is not None:
            # The file's running hashes, beside the part's own (see partsums).
            fed.update({"file " + name: h for name, h in feeding.hashes.items()})
        written: Optional[int] = None
        try:
            with Digests(fed) as digests:
                written = copy_stream(
                    src,
                    dst,
                    digests,
                    size=size,
                    size_limit=size_limit,
                    chunk_size=upload_chunk_size(chunk_size),
                    progress_callback=progress_callback,
                    writeback=writeback,
                )
            if feeding is not None:
                dst.flush()
        finally:
            if feeding is not None:
                partsums.end(feeding, fd, written)
            if writeback is not None:
                writeback.close()
        self.checksums = {name: digest.hexdigest() for name, digest in hashes.items()}
        checksum = next(iter(self.checksums.items()), None)
        return written, "{0}:{1}".format(*checksum) if checksum else None

    def _compute_checksum(
        self,
        stream: Any,
        size: Optional[int] = None,
        chunk_size: Optional[int] = None,
        progress_callback: Optional[Callable[[int, int], Any]] = None,
        **kwargs: Any,
    ) -> str:
        """Checksum stored bytes with :func:`~invenio_records_files_ext.storage.writes.writeloop.hash_stream`.

        In upload-sized chunks (Invenio-Files-REST's ``checksum()`` asks
        for 5 MiB), hashed while the next is read, dropped from the page
        cache behind the read.
        """
        advance: Optional[Callable[[int], Any]] = None
        if progress_callback and size:
            advance = partial(progress_callback, size)
        try:
            with Digests(self._init_hashes()) as digests:
                hash_stream(
                    stream,
                    digests,
                    chunk_size=upload_chunk_size(chunk_size),
                    progress_callback=advance,
                )
        except Exception as error:
            raise StorageError(
                errors=[error],
                description="Could not compute checksum of file: {0}".format(error),
            ) from error
        self.checksums = digests.hexdigests()
        return digests.checksum()


class DurableFilesMixin:
    """Local storage mixin: new files and their directories reach the disk.

    With ``RECORDS_FILES_FSYNC`` on, ``save()`` and ``initialize()`` return
    only once the file's bytes (see :class:`HashingWhileWritingMixin`) and
    the directory entries made for it are on disk; ``update()`` writes into
    a file ``initialize()`` made, and flushes its bytes. Every upload path
    writes through these, before the transaction that records the file
    commits: what an acknowledged upload names survives a crash.
    """

    fileurl: str

    @property
    def local_path(self) -> str:
        """The file's path on this machine."""
        url = self.fileurl
        return url[len("file://") :] if url.startswith("file://") else url

    def _new_entries(self) -> Optional[list[str]]:
        return entries_to_sync(self.local_path) if durable_writes() else None

    def save(self, *args: Any, **kwargs: Any) -> Any:
        """Save a stream as the file (see Invenio-Files-REST), durably."""
        entries = self._new_entries()
        saved = super().save(*args, **kwargs)  # type: ignore[misc]  # the storage class beside the mixin saves
        if entries is not None:
            sync_directories(entries)
        return saved

    def initialize(self, size: int = 0) -> Any:
        """Make the file of ``size`` bytes (see Invenio-Files-REST), durably."""
        entries = self._new_entries()
        made = super().initialize(size=size)  # type: ignore[misc]  # the storage class beside the mixin initializes
        if entries is not None:
            sync_file(self.local_path)
            sync_directories(entries)
        return made


class HashingPyFSFileStorage(
    DurableFilesMixin,
    HashingWhileWritingMixin,
    PyFSFileStorage,  # type: ignore[misc]  # Files-REST is untyped
):
    """Invenio-Files-REST's local file storage, hashing while writing, durable."""


pyfs_storage_factory = partial(
    files_rest_pyfs_factory, filestorage_class=HashingPyFSFileStorage
)
"""Storage factory for ``FILES_REST_STORAGE_FACTORY``: local files, faster
uploads, durable before acknowledged (see :class:`HashingWhileWritingMixin`
and :class:`DurableFilesMixin`)."""

FILES_REST_DEFAULT_FACTORY = "invenio_files_rest.storage.pyfs_storage_factory"


def install(app: Any) -> bool:
    """Use :data:`pyfs_storage_factory` where Invenio-Files-REST's own is set.

    Invenio-Files-REST's local storage never flushes what it writes; this
    package's variant is the same storage, hashing while it writes and
    durable. An application that chose another factory (Invenio-S3, its
    own) keeps it. Returns whether the factory was replaced.
    """
    configured = app.config.get("FILES_REST_STORAGE_FACTORY")
    if configured not in (FILES_REST_DEFAULT_FACTORY, files_rest_pyfs_factory):
        return False
    app.config["FILES_REST_STORAGE_FACTORY"] = pyfs_storage_factory
    state = app.extensions.get("invenio-files-rest")
    if state is not None:
        # A factory loaded before now is cached by Invenio-Files-REST.
        vars(state).pop("storage_factory", None)
    return True
