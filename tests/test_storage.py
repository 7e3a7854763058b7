"""Writing bytes: the write loop, its hashing, durability and writeback, cleanup."""

import hashlib
import os
import threading
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.errors import FileSizeError, UnexpectedFileSizeError
from invenio_files_rest.limiters import FileSizeLimit

from invenio_records_files_ext.storage import writeback, writeloop
from invenio_records_files_ext.storage import writes as storage_module
from invenio_records_files_ext.storage.writes import HashingPyFSFileStorage, Readable
from tests.helpers import BucketRecord
from tests.pagecache import cachestat


class CountingReader:
    """A stream that records the sizes it is asked for."""

    def __init__(self, data: bytes) -> None:
        self.stream = BytesIO(data)
        self.requests: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.requests.append(size)
        return self.stream.read(size)


class ReadOnly:
    """A stream with ``read`` only, as gunicorn's request body."""

    def __init__(self, data: bytes) -> None:
        self.stream = BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)


@pytest.mark.parametrize("kind", [BytesIO, ReadOnly])
@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 65536, 7 * 65536 + 17])
def test_hashing_storage_writes_and_hashes(
    tmp_path: Path, size: int, kind: Callable[[bytes], Readable]
) -> None:
    data = os.urandom(size)
    storage = HashingPyFSFileStorage(str(tmp_path / "f" / "data"))
    progress: list[int] = []
    uri, written, checksum = storage.save(
        kind(data),
        chunk_size=65536,
        progress_callback=lambda total, done: progress.append(done),
    )
    assert written == size
    assert checksum == "md5:" + hashlib.md5(data).hexdigest()
    assert (tmp_path / "f" / "data").read_bytes() == data
    assert progress[-1] == size


def _loop_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith(("digest", "writeback"))
    ]


def _threads_during_save(
    storage: HashingPyFSFileStorage, data: bytes, chunk_size: int
) -> list[int]:
    """Save ``data``; return the loop's threads seen after each chunk."""
    seen: list[int] = []
    storage.save(
        BytesIO(data),
        chunk_size=chunk_size,
        progress_callback=lambda total, done: seen.append(len(_loop_threads())),
    )
    return seen


def test_one_chunk_is_hashed_without_a_thread(tmp_path: Path) -> None:
    """Most files fit in one chunk: starting a thread would cost more."""
    storage = HashingPyFSFileStorage(str(tmp_path / "a" / "data"))
    assert set(_threads_during_save(storage, b"x" * 100, 100)) == {0}
    storage = HashingPyFSFileStorage(str(tmp_path / "b" / "data"))
    data = os.urandom(250)
    assert max(_threads_during_save(storage, data, 100)) == 1
    assert storage.checksums == {"md5": hashlib.md5(data).hexdigest()}
    assert _loop_threads() == []


def test_hashing_thread_ends_when_the_write_fails(tmp_path: Path) -> None:
    before = len(_loop_threads())
    storage = HashingPyFSFileStorage(str(tmp_path / "f" / "data"))
    with pytest.raises(FileSizeError):
        storage.save(
            BytesIO(os.urandom(1000)),
            size_limit=FileSizeLimit(500, "Big."),
            chunk_size=100,
        )
    assert len(_loop_threads()) == before


def test_hashing_storage_limits(tmp_path: Path) -> None:
    storage = HashingPyFSFileStorage(str(tmp_path / "f" / "data"))
    with pytest.raises(FileSizeError) as error:
        storage.save(
            BytesIO(b"x" * 100), size_limit=FileSizeLimit(10, "Too big."), chunk_size=8
        )
    assert error.value.description == "Too big."
    assert not (tmp_path / "f" / "data").exists()
    with pytest.raises(UnexpectedFileSizeError):
        storage.save(BytesIO(b"x" * 10), size=20)
    with pytest.raises(UnexpectedFileSizeError):
        storage.save(BytesIO(b"x" * 30), size=20)


def test_uploads_are_read_in_configured_chunks(
    app: Flask, record: BucketRecord, db: SQLAlchemy, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = CountingReader(os.urandom(1000))
    monkeypatch.setitem(app.config, "RECORDS_FILES_UPLOAD_CHUNK_SIZE", 300)
    record.files.put("a.bin", reader)
    assert set(reader.requests) == {300}
    assert record.files["a.bin"].file.size == 1000


class TwoChecksums(HashingPyFSFileStorage):
    """What RECORDS_FILES_CHECKSUMS will do: more algorithms, one read."""

    def _init_hashes(self) -> dict[str, Any]:
        return {"md5": hashlib.md5(), "sha256": hashlib.sha256()}


@pytest.mark.parametrize("size", [10, 5 * 65536 + 3])
def test_several_algorithms_in_one_read(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    reader = CountingReader(data)
    storage = TwoChecksums(str(tmp_path / "f" / "data"))
    threads = _threads_during_save(storage, data, 65536)
    _, _, checksum = storage.save(reader, chunk_size=65536)
    assert checksum == "md5:" + hashlib.md5(data).hexdigest()
    assert storage.checksums == {
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert sum(reader.requests) < size + 2 * 65536  # each byte read once
    # One thread per algorithm once there is more than one chunk.
    assert max(threads) == (2 if size > 65536 else 0)


class RecordingBuffers(BytesIO):
    """A file that notes the buffers it is asked to read into."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.buffers: set[int] = set()

    def readinto(self, buffer: Any) -> int:
        self.buffers.add(id(buffer.obj))
        return super().readinto(buffer)


def test_buffers_are_reused(tmp_path: Path) -> None:
    data = os.urandom(40 * 4096)
    source = RecordingBuffers(data)
    storage = HashingPyFSFileStorage(str(tmp_path / "f" / "data"))
    _, written, checksum = storage.save(source, chunk_size=4096)
    assert (written, checksum) == (len(data), "md5:" + hashlib.md5(data).hexdigest())
    assert len(source.buffers) == writeloop.DEPTH + 1


def test_saved_bytes_are_on_disk_when_save_returns(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    path = tmp_path / "a" / "b" / "data"
    storage = HashingPyFSFileStorage(str(path))
    storage.save(BytesIO(data), chunk_size=1024 * 1024)
    assert cachestat(path).on_disk
    assert path.read_bytes() == data


def test_initialized_file_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "x" / "data"
    storage = HashingPyFSFileStorage(str(path))
    storage.initialize(size=1000)
    assert path.stat().st_size == 1000
    storage.update(BytesIO(b"y" * 300), seek=500, size=300)
    assert cachestat(path).on_disk
    assert path.read_bytes() == b"\0" * 500 + b"y" * 300 + b"\0" * 200


def test_fsync_can_be_turned_off(tmp_path: Path) -> None:
    """The negative control: without the flush, the bytes are still dirty."""
    bare = Flask("throwaway")
    bare.config["RECORDS_FILES_FSYNC"] = False
    path = tmp_path / "f" / "data"
    with bare.app_context():
        HashingPyFSFileStorage(str(path)).save(BytesIO(os.urandom(1024 * 1024)))
    assert cachestat(path).dirty > 0


def test_long_writes_leave_little_in_the_page_cache(tmp_path: Path) -> None:
    size = 6 * writeback.WINDOW
    path = tmp_path / "f" / "data"
    block = os.urandom(1024 * 1024)
    storage = HashingPyFSFileStorage(str(path))
    storage.save(BytesIO(block * (size // len(block))), chunk_size=len(block))
    stat = cachestat(path)
    assert stat.on_disk
    # Flushed windows are dropped as the write goes on; the last ones stay.
    assert stat.cached * 4096 <= 3 * writeback.WINDOW, stat


def test_directories_to_flush(tmp_path: Path) -> None:
    existing = tmp_path / "root"
    existing.mkdir()
    path = existing / "ab" / "cd" / "data"
    assert writeback.entries_to_sync(str(path)) == [
        str(existing / "ab" / "cd"),
        str(existing / "ab"),
        str(existing),
    ]
    (existing / "ab" / "cd").mkdir(parents=True)
    assert writeback.entries_to_sync(str(path)) == [str(existing / "ab" / "cd")]


def test_a_failed_flush_fails_the_write() -> None:
    """fdatasync() of a pipe fails (EINVAL): the error reaches the caller."""
    read_end, write_end = os.pipe()
    try:
        pacing = writeback.Writeback(write_end, window=1)
        try:
            pacing.advance(1)
            with pytest.raises(OSError):
                pacing.finish()
        finally:
            pacing.close()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_install_replaces_only_the_default_local_factory() -> None:
    bare = Flask("factories")
    bare.config["FILES_REST_STORAGE_FACTORY"] = (
        storage_module.FILES_REST_DEFAULT_FACTORY
    )
    assert storage_module.install(bare)
    installed = bare.config["FILES_REST_STORAGE_FACTORY"]
    assert installed is storage_module.pyfs_storage_factory
    assert not storage_module.install(bare)
    bare.config["FILES_REST_STORAGE_FACTORY"] = "invenio_s3.s3fs_storage_factory"
    assert not storage_module.install(bare)
    assert (
        bare.config["FILES_REST_STORAGE_FACTORY"] == "invenio_s3.s3fs_storage_factory"
    )


def test_checksum_reads_behind_the_page_cache(tmp_path: Path) -> None:
    """A file read back to checksum it (multipart commit) is not left cached."""
    path = tmp_path / "f" / "data"
    path.parent.mkdir()
    data = os.urandom(3 * writeback.WINDOW + 123)
    path.write_bytes(data)
    with open(path, "rb") as fp:
        os.fsync(fp.fileno())  # clean pages only can be dropped
    storage = HashingPyFSFileStorage(str(path), size=len(data))
    progress: list[tuple[int, int]] = []
    checksum = storage.checksum(progress_callback=lambda t, d: progress.append((t, d)))
    assert checksum == "md5:" + hashlib.md5(data).hexdigest()
    assert progress[-1] == (len(data), len(data))
    assert cachestat(path).cached * 4096 < writeback.WINDOW
