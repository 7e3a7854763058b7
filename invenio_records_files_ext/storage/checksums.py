"""The checksums kept for each stored file: which algorithms, and their values.

This module is the one seam through which the rest of the package reads and
keeps a file's checksums. Files-REST keeps one checksum per file instance
(``FileInstance.checksum``, ``md5:<hex>``); MD5 stays there, so that
Invenio-Files-REST and every client of the original module keep working.
The other algorithms' digests are rows of ``records_files_checksums``
(:class:`~invenio_records_files_ext.models.FileChecksum`), one per file
instance and algorithm.

``RECORDS_FILES_CHECKSUMS`` names the algorithms kept per file; MD5 is
always among them. Every upload path computes them all in the one read of
the bytes it makes anyway (:mod:`~invenio_records_files_ext.storage.writes`); a
file stored before an algorithm was configured has what was computed then
(:func:`stored_checksums` returns what exists).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Optional

from flask import has_app_context
from invenio_db import db
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ChecksumMismatchError
from ..models import FileChecksum
from ..settings.current import current

if TYPE_CHECKING:
    from invenio_files_rest.models import FileInstance

SUPPORTED = ("md5", "sha1", "sha256", "sha512", "blake2b")
"""The algorithms a site may ask for, by their ``hashlib`` names."""

HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128, "blake2b": 128}
"""Length of each supported algorithm's hex digest (``blake2b``: 64 bytes)."""

_HEX = re.compile(r"^[0-9a-f]+$")

QUERY_CHUNK = 500
"""File ids asked for in one query by :func:`checksums_by_file`."""


class UnknownAlgorithmError(ValueError):
    """A checksum algorithm this library does not support was asked for."""


def normalise_algorithms(names: Iterable[str]) -> tuple[str, ...]:
    """Return ``names`` checked, without repeats, with ``md5`` first.

    :raises UnknownAlgorithmError: for a name outside :data:`SUPPORTED`.
    """
    wanted = ["md5"]
    for name in names:
        name = str(name).lower()
        if name not in SUPPORTED:
            raise UnknownAlgorithmError(
                f"Unknown checksum algorithm {name!r}: use one of "
                f"{', '.join(SUPPORTED)}."
            )
        if name not in wanted:
            wanted.append(name)
    return tuple(wanted)


def configured_algorithms() -> tuple[str, ...]:
    """Return the algorithms the current application keeps, ``md5`` first.

    Outside an application context: ``("md5",)``.
    """
    if not has_app_context():
        return ("md5",)
    return normalise_algorithms(current().storage.checksums)


def new_hashes(algorithms: Iterable[str]) -> dict[str, Any]:
    """Return algorithm -> a fresh ``hashlib`` object, in the given order."""
    return {
        name: hashlib.new(name, usedforsecurity=False)
        for name in normalise_algorithms(algorithms)
    }


def parse_checksum(value: Optional[str]) -> Optional[tuple[str, str]]:
    """Split ``"<algorithm>:<hex>"`` into a supported algorithm and its digest.

    Returns ``None`` when ``value`` is not of that form, names an algorithm
    outside :data:`SUPPORTED`, or has a digest of the wrong length.
    """
    algorithm, _, digest = (value or "").strip().lower().partition(":")
    if HEX_LENGTHS.get(algorithm) != len(digest) or not _HEX.match(digest):
        return None
    return algorithm, digest


def announced_algorithms(announced: Optional[str]) -> tuple[str, ...]:
    """The configured algorithms, plus the one of a checksum a client announced.

    An upload announced with ``sha256:...`` on a site keeping MD5 only is
    hashed with both, so that the announcement can be verified.
    """
    algorithms = configured_algorithms()
    parsed = parse_checksum(announced)
    if parsed is not None and parsed[0] not in algorithms:
        algorithms += (parsed[0],)
    return algorithms


def verify_announced(announced: Optional[str], checksums: Mapping[str, str]) -> None:
    """Check computed ``checksums`` against the checksum a client announced.

    :param announced: ``"<algorithm>:<hex>"`` or ``None`` (nothing to check).
    :raises invenio_records_files_ext.errors.ChecksumMismatchError: the
        digest differs, or the announced algorithm was not computed.
    """
    if not announced:
        return
    parsed = parse_checksum(announced)
    if parsed is None:
        raise ChecksumMismatchError(announced, "none")
    algorithm, expected = parsed
    actual = checksums.get(algorithm)
    if actual != expected:
        raise ChecksumMismatchError(
            announced, "{0}:{1}".format(algorithm, actual) if actual else "none"
        )


def _column_value(checksum: Optional[str]) -> dict[str, str]:
    """``{"md5": hex}`` from Files-REST's ``checksum`` column (or nothing)."""
    algorithm, _, value = (checksum or "").partition(":")
    return {algorithm: value} if algorithm and value else {}


def _md5_of(file_instance: object) -> dict[str, str]:
    return _column_value(getattr(file_instance, "checksum", None))


def stored_checksums(file_instance: object) -> dict[str, str]:
    """Return the hex digests kept for ``file_instance``, by algorithm.

    The MD5 (Files-REST's column) first, then the other rows, in the order
    of :data:`SUPPORTED`. A file stored before other algorithms were
    configured has its MD5 only. A new file instance not flushed yet
    gives what :func:`save_checksums` was given; a stored one costs one
    query, unless its rows are loaded already.
    """
    found = _md5_of(file_instance)
    rows = getattr(file_instance, "checksum_rows", None)
    if rows is None:
        file_id = getattr(file_instance, "id", None)
        others = checksums_by_file([file_id]).get(file_id, {}) if file_id else {}
    else:
        others = {row.algorithm: row.value for row in rows}
    found.update(_ordered(others))
    return found


def save_checksums(
    file_instance: FileInstance, checksums: Mapping[str, str], *, replace: bool = False
) -> None:
    """Keep ``checksums`` (hex digests by algorithm) for ``file_instance``.

    The MD5 goes to Files-REST's own ``checksum`` column, the others to
    rows that hang on the file instance: a new one's are inserted with it,
    when it is added to the session and flushed.

    :param replace: drop the rows of algorithms not in ``checksums`` (the
        bytes changed: what was computed before no longer holds).
    """
    md5 = checksums.get("md5")
    if md5:
        file_instance.checksum = f"md5:{md5}"
    others = {
        name: value for name, value in checksums.items() if name != "md5" and value
    }
    if not others and not replace:
        return
    rows = file_instance.checksum_rows
    for row in list(rows):
        if row.algorithm in others:
            row.value = others.pop(row.algorithm)
        elif replace:
            rows.remove(row)
    for name, value in _ordered(others).items():
        rows.append(FileChecksum(algorithm=name, value=value))


def checksums_by_file(
    file_ids: Iterable[Any], session: Optional[Session] = None
) -> dict[Any, dict[str, str]]:
    """Return file id -> {algorithm: hex} of the rows kept beside the MD5.

    One query per :data:`QUERY_CHUNK` ids; files without rows are left out.
    The MD5 is not among them: it is the file instance's ``checksum``.
    """
    session = session if session is not None else db.session
    ids = list(dict.fromkeys(file_id for file_id in file_ids if file_id is not None))
    found: dict[Any, dict[str, str]] = {}
    for start in range(0, len(ids), QUERY_CHUNK):
        query = select(
            FileChecksum.file_id, FileChecksum.algorithm, FileChecksum.value
        ).where(FileChecksum.file_id.in_(ids[start : start + QUERY_CHUNK]))
        for file_id, algorithm, value in session.execute(query):
            found.setdefault(file_id, {})[algorithm] = value
    return {file_id: _ordered(values) for file_id, values in found.items()}


def entry_checksums(
    checksum: Optional[str], others: Optional[Mapping[str, str]] = None
) -> dict[str, str]:
    """The ``checksums`` field of an entry: the MD5 column's, then ``others``."""
    found = _column_value(checksum)
    if others:
        found.update(_ordered(others))
    return found


def loaded_checksums(file_instance: Any) -> Optional[dict[str, str]]:
    """The rows of a file instance beside its MD5, if loaded (no query made).

    ``None`` when they are not loaded (a stored file instance read from
    the database): :func:`stored_checksums` reads them.
    """
    state = getattr(file_instance, "_sa_instance_state", None)
    if state is None or "checksum_rows" in state.unloaded:
        return None
    return {row.algorithm: row.value for row in file_instance.checksum_rows}


def file_checksums(
    file_instance: Any, known: Optional[Mapping[Any, Mapping[str, str]]] = None
) -> dict[str, str]:
    """The ``checksums`` field shown for a file instance.

    :param known: file id -> checksums read beforehand for a whole page
        (:func:`objects_checksums`, or the page's entries), so that a
        listing makes no query per file. Otherwise the loaded rows, else
        (when the application keeps more than MD5) one query.
    """
    found = (known or {}).get(file_instance.id)
    if found is not None:
        return dict(found)
    others = loaded_checksums(file_instance)
    if others is None and keeps_more_than_md5():
        return stored_checksums(file_instance)
    return entry_checksums(file_instance.checksum, others)


def objects_checksums(objects: Iterable[Any]) -> dict[Any, dict[str, str]]:
    """File id -> ``checksums`` of object versions (a page): one query at most.

    None when the application keeps MD5 only (it is the file's column).
    """
    files = [obj.file for obj in objects if obj.file is not None]
    others = checksums_by_file(f.id for f in files) if keeps_more_than_md5() else {}
    return {f.id: entry_checksums(f.checksum, others.get(f.id)) for f in files}


def keeps_more_than_md5() -> bool:
    """Whether the application keeps algorithms beside MD5 (rows to read)."""
    return len(configured_algorithms()) > 1


def fill_entries(entries: Iterable[dict[str, Any]]) -> None:
    """Add the stored rows to the ``checksums`` of entries, in one query.

    Entries come with their MD5 only (``checksums`` made from the
    ``checksum`` column); when the application keeps other algorithms,
    their rows are read for all the entries at once. Nothing is read
    otherwise.
    """
    if not keeps_more_than_md5():
        return
    entries = [entry for entry in entries if entry.get("file_id")]
    if not entries:
        return
    by_file = checksums_by_file(_uuid(entry["file_id"]) for entry in entries)
    for entry in entries:
        others = by_file.get(_uuid(entry["file_id"]))
        if others:
            entry["checksums"] = entry_checksums(entry.get("checksum"), others)


def _uuid(value: Any) -> Any:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


_RANK = {name: index for index, name in enumerate(SUPPORTED)}


def _ordered(values: Mapping[str, str]) -> dict[str, str]:
    return dict(sorted(values.items(), key=lambda item: _RANK.get(item[0], 99)))


__all__ = (
    "HEX_LENGTHS",
    "QUERY_CHUNK",
    "SUPPORTED",
    "UnknownAlgorithmError",
    "announced_algorithms",
    "checksums_by_file",
    "configured_algorithms",
    "entry_checksums",
    "file_checksums",
    "fill_entries",
    "keeps_more_than_md5",
    "loaded_checksums",
    "new_hashes",
    "normalise_algorithms",
    "objects_checksums",
    "parse_checksum",
    "save_checksums",
    "stored_checksums",
    "verify_announced",
)
