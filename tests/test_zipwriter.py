"""The streamed zip writer on its own, checked by the standard library.

Whatever :class:`ZipStreamWriter` writes, :mod:`zipfile` and the library's
own reader must read back, member for member: small and empty members,
UTF-8 names, zip64 fields (forced from a low size so that small data
exercises them) and more than 65,535 members, through the files archive
route too. Names ending in ``/`` are folders, which records do not hold.
"""

from __future__ import annotations

import io
import zipfile
from typing import Literal

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from hypothesis import given, settings
from hypothesis import strategies as st
from invenio_files_rest.models import Location

from invenio_records_files_ext.archives.zipreader import (
    Limits,
    open_member,
    read_directory,
)
from invenio_records_files_ext.archives.zipwriter import ZipStreamWriter
from invenio_records_files_ext.errors import ArchiveSizeError
from tests.helpers import IsolatedClient

from .helpers import BytesSource, create_record, stored_record, stream

# Surrogates cannot be encoded in UTF-8.
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
NAMES = st.text(
    alphabet=st.characters(blacklist_categories=SURROGATES, blacklist_characters="\0"),
    min_size=1,
    max_size=30,
).filter(lambda name: not name.endswith("/"))
MEMBERS = st.dictionaries(NAMES, st.binary(max_size=5000), max_size=8)


def written(members: dict[str, bytes], zip64_from: int, chunk: int = 700) -> bytes:
    """Return the archive the writer makes of ``members``."""
    writer = ZipStreamWriter(zip64_from=zip64_from)
    out = bytearray()
    for name, data in members.items():
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        for piece in writer.member(name, pieces, len(data)):
            out += piece
    out += writer.finish()
    assert writer.offset == len(out)
    return bytes(out)


@settings(max_examples=80, deadline=None)
@given(members=MEMBERS, zip64_from=st.sampled_from([1, 100, 4000, 0xFFFFFFFF]))
def test_zipfile_reads_what_the_writer_wrote(
    members: dict[str, bytes], zip64_from: int
) -> None:
    """Names, bytes and CRCs as given; the standard library finds no error."""
    data = written(members, zip64_from)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == list(members)
        for name, content in members.items():
            assert archive.read(name) == content
    source = BytesSource(data)
    directory = read_directory(source, Limits(max_ratio=10**6))
    assert [member.name for member in directory.members] == list(members)
    for member in directory.members:
        assert b"".join(open_member(source, member, Limits())) == members[member.name]


def test_a_member_of_another_size_stops_the_archive() -> None:
    """Bytes that differ from the recorded size raise, they are never zipped."""
    writer = ZipStreamWriter()
    with pytest.raises(ArchiveSizeError):
        list(writer.member("short", [b"abc"], 4))
    with pytest.raises(ArchiveSizeError):
        list(ZipStreamWriter().member("long", [b"abcde"], 4))


def test_more_than_65535_members_get_zip64_end_records() -> None:
    """65,600 members: zip64 end records, read back by both readers."""
    members = {f"{index:05d}": b"" if index % 2 else b"y" for index in range(65_600)}
    data = written(members, 0xFFFFFFFF)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert len(archive.infolist()) == 65_600
        assert archive.read("65598") == b"y"
    directory = read_directory(BytesSource(data), Limits(max_members=70_000))
    assert len(directory.members) == 65_600


@pytest.mark.slow
def test_the_files_archive_route_with_more_than_65535_files(
    app: Flask,
    client: IsolatedClient,
    db: SQLAlchemy,
    location: Location,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record of 65,600 files: its files archive is a valid zip64 archive."""
    monkeypatch.setitem(app.config, "RECORDS_FILES_FSYNC", False)
    monkeypatch.setitem(app.config, "RECORDS_FILES_INLINE_MAX_ENTRIES", 10)
    count = 65_600
    pid = create_record(client)
    record = stored_record(pid)
    record.files.update({f"f{index:05d}": stream(b"z") for index in range(count)})
    record.commit()
    db.session.commit()
    response = client.get(f"/records/{pid}/files-archive")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        assert len(names) == count
        assert names[0] == "f00000" and names[-1] == f"f{count - 1:05d}"
        assert archive.read("f65599") == b"z"
