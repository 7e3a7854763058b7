"""Metadata extracted when a file is completed: images, zip files, failures."""

import io
import time
import zipfile
from typing import Any, NoReturn, Optional

import pytest
from flask import Config, Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location
from PIL import Image

from invenio_records_files_ext import signals
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.errors import ReservedMetadataError
from invenio_records_files_ext.processors import EXTRACTED_KEY
from invenio_records_files_ext.processors.base import BoundedFile, Processor
from tests.helpers import (
    IsolatedClient,
    create_record,
    files_of,
    receiving,
    stored_record,
    stream,
    upload,
)


def png(width: int = 3, height: int = 2) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def zip_of(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture()
def processors(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Config:
    """Restore the processors' configuration after the test."""
    for key in [
        key for key in app.config if key.startswith("RECORDS_FILES_PROCESSORS")
    ]:
        monkeypatch.setitem(app.config, key, app.config[key])
    return app.config


def test_image_and_zip_metadata_on_upload(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    with receiving(signals.file_processed) as processed:
        files_of(record)["a.png"] = stream(png(640, 480))
        files_of(record)["b.zip"] = stream(zip_of(**{"x.txt": b"x" * 10, "d/y": b"yy"}))
        files_of(record)["c.txt"] = stream(b"text")
    db.session.commit()
    stored = Record.get_record(record.id)
    assert stored.files["a.png"][EXTRACTED_KEY] == {
        "image": {"width": 640, "height": 480, "format": "PNG", "mode": "RGB"}
    }
    assert stored.files["b.zip"][EXTRACTED_KEY] == {
        "zip": {
            "members": 2,
            "files": 2,
            "folders": 0,
            "size": 12,
            "compressed_size": stored.files["b.zip"][EXTRACTED_KEY]["zip"][
                "compressed_size"
            ],
        }
    }
    assert EXTRACTED_KEY not in stored.files["c.txt"].data
    assert [call["file"].key for call in processed] == ["a.png", "b.zip"]
    # Shown in the record's entries.
    assert stored["_files"][0][EXTRACTED_KEY]["image"]["width"] == 640


def test_malformed_files_record_an_error_and_upload(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    response = upload(client, pid, "broken.png", b"\x89PNG not really")
    assert response.status_code == 200, response.data
    response = upload(client, pid, "broken.zip", b"PK\x03\x04 truncated")
    assert response.status_code == 200, response.data
    files = stored_record(pid).files
    assert "error" in files["broken.png"][EXTRACTED_KEY]["image"]
    assert "not a zip" in files["broken.zip"][EXTRACTED_KEY]["zip"]["error"]


def test_replaced_file_drops_stale_metadata(
    app: Flask, db: SQLAlchemy, location: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = Record.create({})
    files_of(record)["a.png"] = stream(png())
    files_of(record)["a.png"]["title"] = "kept"
    assert EXTRACTED_KEY in files_of(record)["a.png"].data
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "RECORDS_FILES_PROCESSORS", [])
        files_of(record)["a.png"] = stream(b"now text")
        files_of(record).update({"b.png": stream(b"x")})
    assert files_of(record)["a.png"].data.get("title") == "kept"
    assert EXTRACTED_KEY not in files_of(record)["a.png"].data


def test_users_cannot_write_the_reserved_key(
    app: Flask, db: SQLAlchemy, location: Location
) -> None:
    record = Record.create({})
    files_of(record)["a.png"] = stream(png())
    with pytest.raises(ReservedMetadataError):
        files_of(record)["a.png"][EXTRACTED_KEY] = {"image": {"width": 1}}
    with pytest.raises(ReservedMetadataError):
        del files_of(record)["a.png"][EXTRACTED_KEY]
    assert files_of(record)["a.png"][EXTRACTED_KEY]["image"]["width"] == 3


class Sleepy(Processor):
    """Takes longer than allowed, reading as it goes."""

    name = "sleepy"

    def accepts(self, key: str, mimetype: Optional[str]) -> bool:
        return key.endswith(".slow")

    def process(self, file: BoundedFile) -> dict[str, Any]:
        for _ in range(100):
            time.sleep(0.05)
            file.read(1)
        return {"done": True}


class Greedy(Processor):
    """Reads far more than allowed."""

    name = "greedy"

    def accepts(self, key: str, mimetype: Optional[str]) -> bool:
        return key.endswith(".slow")

    def process(self, file: BoundedFile) -> dict[str, Any]:
        while file.read(1024 * 1024):
            pass
        return {"done": True}


class Exploding(Processor):
    """Raises."""

    name = "exploding"

    def accepts(self, key: str, mimetype: Optional[str]) -> bool:
        return True

    def process(self, file: BoundedFile) -> NoReturn:
        raise MemoryError("boom")


def test_processors_are_bounded_in_time_and_reads(
    processors: Config, db: SQLAlchemy, location: Location
) -> None:
    processors["RECORDS_FILES_PROCESSORS"] = [Sleepy, Greedy(), Exploding]
    processors["RECORDS_FILES_PROCESSORS_TIMEOUT"] = 0.3
    processors["RECORDS_FILES_PROCESSORS_MAX_READ"] = 4096
    record = Record.create({})
    started = time.monotonic()
    files_of(record)["a.slow"] = stream(b"x" * 100000)
    assert time.monotonic() - started < 3
    extracted = files_of(record)["a.slow"][EXTRACTED_KEY]
    assert extracted["sleepy"] == {"error": "Gave up after 0.3 seconds."}
    assert "read more" in extracted["greedy"]["error"]
    assert extracted["exploding"] == {"error": "boom"}
    db.session.commit()


def test_decompression_bomb_images_are_refused(
    processors: Config, db: SQLAlchemy, location: Location
) -> None:
    processors["RECORDS_FILES_PROCESSORS_MAX_PIXELS"] = 100
    record = Record.create({})
    files_of(record)["big.png"] = stream(png(20, 20))
    assert "pixels" in files_of(record)["big.png"][EXTRACTED_KEY]["image"]["error"]


def test_processors_run_on_bulk_writes_and_rest_uploads(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "r.png", png(7, 9)).status_code == 200
    record = stored_record(pid)
    assert record.files["r.png"][EXTRACTED_KEY]["image"]["height"] == 9
    record.files.update({"s.png": stream(png(5, 5)), "t.txt": stream(b"t")})
    assert record.files["s.png"][EXTRACTED_KEY]["image"]["width"] == 5
