"""The checksums kept for each stored file: which algorithms, and their values.

This module is the one seam through which the rest of the package reads and
keeps a file's checksums. Files-REST keeps one checksum per file instance
(``FileInstance.checksum``, ``md5:<hex>``); MD5 stays there, so that
Invenio-Files-REST and every client of the original module keep working.

``RECORDS_FILES_CHECKSUMS`` names the algorithms kept per file; MD5 is
always among them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import current_app

SUPPORTED = ("md5", "sha1", "sha256", "sha512", "blake2b")
"""The algorithms a site may ask for, by their :mod:`hashlib` names."""


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
    """Return the algorithms the current application keeps, ``md5`` first."""
    return normalise_algorithms(current_app.config["RECORDS_FILES_CHECKSUMS"])


def stored_checksums(file_instance: object) -> dict[str, str]:
    """Return the hex digests kept for ``file_instance``, by algorithm.

    A file stored before other algorithms were configured has its MD5 only.
    """
    algorithm, _, value = (getattr(file_instance, "checksum", None) or "").partition(
        ":"
    )
    return {algorithm: value} if algorithm and value else {}


def save_checksums(file_instance: object, checksums: Mapping[str, str]) -> None:
    """Keep ``checksums`` (hex digests by algorithm) for ``file_instance``.

    The MD5 goes to Files-REST's own ``checksum`` column.
    """
    md5 = checksums.get("md5")
    if md5:
        file_instance.checksum = f"md5:{md5}"  # type: ignore[attr-defined]
