"""File keys: one policy for Python and REST, normalised to NFC.

Keys that could pass for another key or for a path they do not name are
refused with :class:`InvalidFileKeyError` in Python and a JSON 400 over
REST, and nothing is stored.
"""

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from urllib.parse import quote

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from invenio_files_rest.models import Location, ObjectVersion

from invenio_records_files_ext.db.keys import check_url_path, spellings, validate_key
from invenio_records_files_ext.errors import InvalidFileKeyError
from tests.helpers import (
    BucketRecord,
    IsolatedClient,
    create_record,
    storage_files,
    stored_record,
    upload,
)

REFUSED = {
    "backslash": "dir\\file.txt",
    "backslash only": "\\",
    "fullwidth dots and solidus": "\uff0e\uff0e\uff0fx",
    "two dot leader": "\u2025/x",
    "fullwidth solidus in a segment": "a\uff0fb",
    "fullwidth reverse solidus": "a\uff3cb",
    "right-to-left override": "invoice\u202etxt.exe",
    "left-to-right isolate": "a\u2066b",
    "zero width space": "a\u200bb.txt",
    "byte order mark": "\ufeffdata.csv",
    "soft hyphen": "a\u00adb",
    "line separator": "a\u2028b",
    "paragraph separator": "a\u2029b",
    "space": " ",
    "spaces": "   ",
    "no-break space": "\u00a0",
    "ideographic space": "\u3000",
    "blank segment": "dir/ /file.txt",
    "only a zero width joiner": "\u200d",
    "joiners and spaces": " \u200c\u200d ",
    "hangul filler": "\u3164",
    "blank braille pattern": "dir/\u2800",
    "tab": "\t",
    "double slash": "a//b",
    "dot segment": "a/./b",
    "lone surrogate": "a\udcffb",
}

ACCEPTED = [
    "data.csv",
    "dir/sub/file.txt",
    "with space.txt",
    " leading space.txt",
    "日本語/ファイル.txt",
    "emoji\U0001f600.png",
    # Zero-width joiner and non-joiner: part of emoji and of Persian text.
    "\U0001f469\u200d\U0001f52c.png",
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.txt",
    "dots...in.name",
    "..hidden",
]

NFC = "caf\u00e9.txt"
NFD = unicodedata.normalize("NFD", NFC)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_keys_in_python(app: Flask, name: str) -> None:
    with app.app_context():
        with pytest.raises(InvalidFileKeyError) as error:
            validate_key(REFUSED[name])
    assert error.value.message.startswith("Invalid file key: ")
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("key", ACCEPTED)
def test_accepted_keys(app: Flask, key: str) -> None:
    with app.app_context():
        assert validate_key(key) == unicodedata.normalize("NFC", key)


def test_keys_are_normalised_to_nfc(app: Flask) -> None:
    assert NFC != NFD
    with app.app_context():
        assert validate_key(NFD) == NFC
        assert validate_key(NFC) == NFC
    assert spellings(NFC) == [NFC]
    assert spellings(NFD) == [NFC, NFD]


def test_messages_name_the_character(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(InvalidFileKeyError, match="U\\+202E .RIGHT-TO-LEFT"):
            validate_key("a\u202eb")
        with pytest.raises(InvalidFileKeyError, match="reads as '../x'"):
            validate_key("\uff0e\uff0e\uff0fx")


@contextmanager
def configured(
    monkeypatch: pytest.MonkeyPatch, app: Flask, **values: object
) -> Iterator[None]:
    with monkeypatch.context() as patch:
        for name, value in values.items():
            patch.setitem(app.config, name, value)
        yield


def test_rules_sites_may_relax(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    with app.app_context():
        with configured(monkeypatch, app, RECORDS_FILES_KEY_ALLOW_BACKSLASH=True):
            assert validate_key("dir\\file.txt") == "dir\\file.txt"
            # A segment that reads as '..' stays refused.
            with pytest.raises(InvalidFileKeyError):
                validate_key("\u2025/x")
        with configured(monkeypatch, app, RECORDS_FILES_KEY_ALLOW_BLANK=True):
            assert validate_key("\u3000") == "\u3000"
            assert validate_key("dir/ /f") == "dir/ /f"
        with configured(
            monkeypatch, app, RECORDS_FILES_KEY_ALLOWED_FORMAT_CHARACTERS="\u200b"
        ):
            assert validate_key("a\u200bb") == "a\u200bb"
            with pytest.raises(InvalidFileKeyError):
                validate_key("a\u200db")
        with configured(
            monkeypatch, app, RECORDS_FILES_KEY_ALLOWED_FORMAT_CHARACTERS=""
        ):
            with pytest.raises(InvalidFileKeyError):
                validate_key("a\u200db")
        with configured(monkeypatch, app, RECORDS_FILES_KEY_NORMALIZATION=None):
            assert validate_key(NFD) == NFD
        # Never negotiable: separators, control characters, '..'.
        with configured(
            monkeypatch,
            app,
            RECORDS_FILES_KEY_ALLOW_BACKSLASH=True,
            RECORDS_FILES_KEY_ALLOW_BLANK=True,
            RECORDS_FILES_KEY_ALLOWED_FORMAT_CHARACTERS="\u202e",
        ):
            for key in ("a\u2028b", "a\x00b", "../x", "\u2025/x", "a\uff0fb"):
                with pytest.raises(InvalidFileKeyError):
                    validate_key(key)


def test_url_path_must_be_utf8() -> None:
    check_url_path("/records/1/files/caf\xc3\xa9.txt")
    with pytest.raises(InvalidFileKeyError, match="not valid UTF-8"):
        check_url_path("/records/1/files/\xffa.txt")


def test_python_api_refuses_and_stores_nothing(
    record: BucketRecord, db: SQLAlchemy, location: Location
) -> None:
    for key in REFUSED.values():
        with pytest.raises(InvalidFileKeyError):
            record.files[key] = BytesIO(b"x")
        with pytest.raises(InvalidFileKeyError):
            record.files.update({key: BytesIO(b"x")})
    record.files["ok.txt"] = BytesIO(b"x")
    for key in ("a\\b", "\u3000"):
        with pytest.raises(InvalidFileKeyError):
            record.files.rename("ok.txt", key)
    db.session.commit()
    assert record.files.keys == ["ok.txt"]
    assert [obj.key for obj in ObjectVersion.query.all()] == ["ok.txt"]
    assert len(storage_files(location.uri)) == 1


def test_nfc_and_nfd_are_one_key_in_python(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    record.files[NFD] = BytesIO(b"first")
    assert record.files.keys == [NFC]
    assert NFD in record.files and NFC in record.files
    assert record.files[NFD]["key"] == NFC
    record.files[NFC] = BytesIO(b"second")
    record.files.update({NFD: BytesIO(b"third")})
    db.session.commit()
    assert record.files.keys == [NFC]
    assert ObjectVersion.query.filter_by(key=NFD).count() == 0
    assert ObjectVersion.query.filter_by(key=NFC).count() == 3
    record.files.rename(NFD, "tea.txt")
    assert record.files.keys == ["tea.txt"]
    record.files.rename("tea.txt", NFD)
    del record.files[NFD]
    db.session.commit()
    assert record.files.keys == []


def test_keys_stored_before_normalisation_keep_their_spelling(
    record: BucketRecord, db: SQLAlchemy
) -> None:
    """Files stored under a decomposed key (the original module kept keys as
    given) are still found under it, in Python and over REST."""
    ObjectVersion.create(record.bucket, NFD, stream=BytesIO(b"old"))
    record.files.flush()
    db.session.commit()
    assert record.files.keys == [NFD]
    assert NFD in record.files
    assert record.files[NFD]["key"] == NFD
    assert record.files.stored_key(NFC) == NFC
    assert record.files.stored_key(NFD) == NFD


def test_rest_refuses_bad_keys_with_json_400_and_stores_nothing(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    pid = create_record(client)
    for name, key in REFUSED.items():
        if name == "lone surrogate":
            continue
        response = upload(client, pid, quote(key, safe="/"), b"x")
        assert response.status_code == 400, (name, response.data)
        assert response.json["message"].startswith("Invalid file key: "), name
        assert response.json["status"] == 400
        started = client.post(
            "/records/{0}/files/{1}?uploads&size=6000000&partSize=5242880".format(
                pid, quote(key, safe="/")
            )
        )
        assert started.status_code == 400, (name, started.data)
    assert storage_files(location.uri) == set()
    assert ObjectVersion.query.count() == 0
    assert stored_record(pid).files.keys == []


def test_rest_nfc_and_nfd_are_one_key(client: IsolatedClient, db: SQLAlchemy) -> None:
    pid = create_record(client)
    assert upload(client, pid, quote(NFD), b"first").json["key"] == NFC
    assert upload(client, pid, quote(NFC), b"second").json["key"] == NFC
    for spelling in (NFC, NFD):
        download = client.get("/records/{0}/files/{1}".format(pid, quote(spelling)))
        assert download.status_code == 200
        assert download.data == b"second"
    listing = client.get("/records/{0}/files".format(pid)).json
    assert [item["key"] for item in listing["contents"]] == [NFC]
    deleted = client.delete("/records/{0}/files/{1}".format(pid, quote(NFD)))
    assert deleted.status_code == 204
    assert client.get("/records/{0}/files".format(pid)).json["contents"] == []


def test_rest_legacy_decomposed_key_is_served(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    record = stored_record(pid)
    ObjectVersion.create(record.bucket, NFD, stream=BytesIO(b"old"))
    record.files.flush()
    db.session.commit()
    download = client.get("/records/{0}/files/{1}".format(pid, quote(NFD)))
    assert download.status_code == 200
    assert download.data == b"old"


def test_rest_refuses_invalid_utf8_in_the_url(
    client: IsolatedClient, db: SQLAlchemy, location: Location
) -> None:
    """Invalid UTF-8 bytes used to become U+FFFD: two keys, one file."""
    pid = create_record(client)
    for method in ("put", "get", "delete"):
        response = getattr(client, method)(
            "/records/{0}/files/x".format(pid),
            data=b"x",
            headers={"Content-Type": "application/octet-stream"},
            environ_overrides={"PATH_INFO": "/records/{0}/files/\xffa.txt".format(pid)},
        )
        assert response.status_code == 400, (method, response.data)
        assert "not valid UTF-8" in response.json["message"]
    assert storage_files(location.uri) == set()
    assert ObjectVersion.query.count() == 0
