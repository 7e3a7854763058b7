"""Writing bytes: the storage that hashes while it writes, chunking, cleanup."""

import hashlib
import os
import threading
from io import BytesIO

import pytest
from invenio_files_rest.errors import FileSizeError, UnexpectedFileSizeError
from invenio_files_rest.limiters import FileSizeLimit

from invenio_records_files_ext import storage as storage_module
from invenio_records_files_ext.storage import HashingPyFSFileStorage


class CountingReader:
    """A stream that records the sizes it is asked for."""

    def __init__(self, data):
        self.stream = BytesIO(data)
        self.requests = []

    def read(self, size=-1):
        self.requests.append(size)
        return self.stream.read(size)


@pytest.mark.parametrize("size", [0, 1, 1000, 3 * 65536 + 17])
def test_hashing_storage_writes_and_hashes(tmp_path, size):
    data = os.urandom(size)
    storage = HashingPyFSFileStorage(str(tmp_path / "f" / "data"))
    progress = []
    uri, written, checksum = storage.save(
        BytesIO(data),
        chunk_size=65536,
        progress_callback=lambda total, done: progress.append(done),
    )
    assert written == size
    assert checksum == "md5:" + hashlib.md5(data).hexdigest()
    assert (tmp_path / "f" / "data").read_bytes() == data
    assert progress[-1] == size


def _hashing_threads():
    return [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]


def test_one_chunk_is_hashed_without_a_thread(tmp_path, monkeypatch):
    """Most files fit in one chunk: starting a thread would cost more."""
    started = []
    real = storage_module.ThreadPoolExecutor

    class Recording(real):
        def __init__(self, *args, **kwargs):
            started.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(storage_module, "ThreadPoolExecutor", Recording)
    storage = HashingPyFSFileStorage(str(tmp_path / "a" / "data"))
    assert storage.save(BytesIO(b"x" * 100), chunk_size=100)[1] == 100
    assert started == []
    storage = HashingPyFSFileStorage(str(tmp_path / "b" / "data"))
    data = os.urandom(250)
    _, written, checksum = storage.save(BytesIO(data), chunk_size=100)
    assert (written, checksum) == (250, "md5:" + hashlib.md5(data).hexdigest())
    assert started == [1]


def test_hashing_thread_ends_when_the_write_fails(tmp_path):
    before = len(_hashing_threads())
    storage = HashingPyFSFileStorage(str(tmp_path / "f" / "data"))
    with pytest.raises(FileSizeError):
        storage.save(
            BytesIO(os.urandom(1000)),
            size_limit=FileSizeLimit(500, "Big."),
            chunk_size=100,
        )
    assert len(_hashing_threads()) == before


def test_hashing_storage_limits(tmp_path):
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


def test_uploads_are_read_in_configured_chunks(app, record, db, monkeypatch):
    reader = CountingReader(os.urandom(1000))
    monkeypatch.setitem(app.config, "RECORDS_FILES_UPLOAD_CHUNK_SIZE", 300)
    record.files.put("a.bin", reader)
    assert set(reader.requests) == {300}
    assert record.files["a.bin"].file.size == 1000
