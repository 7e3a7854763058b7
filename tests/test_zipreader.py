"""The zip reader on its own: against the standard library, and under mutation.

Archives are made by :mod:`zipfile` (stored and deflated members, zip64
records, comments, bytes before the archive, UTF-8 names); the reader must
see the members ``zipfile`` sees and extract the same bytes. Mutated
archives may be refused, but only ever with the library's container errors.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invenio_records_files_ext.archives.zipreader import (
    Limits,
    open_member,
    read_directory,
)
from invenio_records_files_ext.errors import ContainerError, ContainerTooLargeError

from .helpers import BytesSource

NAMES = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"
    ),
    min_size=1,
    max_size=24,
)
MEMBERS = st.dictionaries(NAMES, st.binary(max_size=3000), min_size=1, max_size=6)
LIMITS = Limits(max_ratio=10**6)


def make_archive(
    members: dict[str, bytes],
    method: int = zipfile.ZIP_STORED,
    comment: bytes = b"",
    prefix: bytes = b"",
    force_zip64: bool = False,
) -> bytes:
    """Return the bytes of an archive ``zipfile`` writes of ``members``."""
    out = io.BytesIO()
    out.write(prefix)
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in members.items():
            with archive.open(name, "w", force_zip64=force_zip64) as member:
                member.write(data)
        archive.comment = comment
    return out.getvalue()


def extracted(data: bytes) -> dict[str, bytes]:
    """Return every member of ``data`` as our reader extracts it."""
    source = BytesSource(data)
    directory = read_directory(source, LIMITS)
    return {
        member.name: b"".join(open_member(source, member, LIMITS, chunk=512))
        for member in directory.members
    }


@settings(max_examples=60, deadline=None)
@given(
    members=MEMBERS,
    method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
    # A comment holding an end-record signature confuses zipfile itself.
    comment=st.binary(max_size=300).filter(lambda comment: b"PK" not in comment),
    prefix=st.binary(max_size=200),
    force_zip64=st.booleans(),
)
def test_the_reader_sees_what_zipfile_wrote(
    members: dict[str, bytes],
    method: int,
    comment: bytes,
    prefix: bytes,
    force_zip64: bool,
) -> None:
    """Names, sizes, CRCs and bytes agree with the standard library."""
    data = make_archive(members, method, comment, prefix, force_zip64)
    source = BytesSource(data)
    directory = read_directory(source, LIMITS)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert [m.name for m in directory.members] == [i.filename for i in infos]
        assert [m.size for m in directory.members] == [i.file_size for i in infos]
        assert [m.crc for m in directory.members] == [i.CRC for i in infos]
        for member in directory.members:
            got = b"".join(open_member(source, member, LIMITS, chunk=512))
            assert got == archive.read(member.name)


def test_zip64_end_records_with_many_members() -> None:
    """More than 65,535 members: the reader takes the count from zip64 records."""
    members = {f"m{i:05d}": b"" for i in range(65_600)}
    data = make_archive(members)
    directory = read_directory(BytesSource(data), Limits(max_members=70_000))
    assert len(directory.members) == 65_600
    assert directory.members[-1].name == "m65599"


def test_member_count_limit_is_checked_before_reading_the_directory() -> None:
    """A member count beyond the limit is refused with 413, not parsed."""
    data = make_archive({f"m{i}": b"x" for i in range(20)})
    with pytest.raises(ContainerTooLargeError):
        read_directory(BytesSource(data), Limits(max_members=10))


@pytest.fixture(scope="module")
def sample() -> bytes:
    """A small archive with a stored and a deflated member and a comment."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", b"hello " * 50, zipfile.ZIP_STORED)
        archive.writestr("b/c.bin", bytes(range(256)) * 20, zipfile.ZIP_DEFLATED)
        archive.writestr("é.txt", "é".encode() * 10, zipfile.ZIP_DEFLATED)
        archive.comment = b"note"
    return out.getvalue()


def _read_all(data: bytes) -> None:
    source = BytesSource(data)
    directory = read_directory(source, Limits())
    for member in directory.members:
        if member.is_dir:
            continue
        for _ in open_member(source, member, Limits(), chunk=64):
            pass


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_archives_raise_only_container_errors(
    sample: bytes, data: st.DataObject
) -> None:
    """Flipped, inserted or cut bytes: a container error or a clean read."""
    mutated = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        kind = data.draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if kind == "set" and mutated:
            mutated[position] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and mutated:
            del mutated[position : position + data.draw(st.integers(1, 8))]
        elif kind == "cut":
            del mutated[position:]
    try:
        _read_all(bytes(mutated))
    except (ContainerError, ContainerTooLargeError):
        pass


def test_a_cut_archive_is_broken_not_an_index_error(sample: bytes) -> None:
    """Every prefix of an archive is refused with a container error."""
    for length in range(0, len(sample), 7):
        with pytest.raises((ContainerError, ContainerTooLargeError)):
            _read_all(sample[:length])
