"""Verifying a BagIt bag (RFC 8493) completely, before anything of it is used.

:func:`verify_bag` checks the bag's declaration (``bagit.txt``), that
every payload file is listed in a manifest and every listed file is
there, ``Payload-Oxum`` when given, every tag manifest, and every payload
checksum of every manifest, each file read once for all its algorithms
(and MD5, always: the checksum Files-REST keeps). Every problem is
collected and named by its file; any problem raises
:class:`~invenio_records_files_ext.errors.InvalidBagError`.

Paths in manifests are percent-decoded as RFC 8493 says (``%25``,
``%0A``, ``%0D`` only: :func:`invenio_records_files_ext.archives.bags.decode_path`);
keys are the paths under ``data/``, checked by the package's key rules.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from ..archives.bags import decode_path
from ..db.keys import validate_key
from ..errors import InvalidBagError, InvalidFileKeyError
from .bag_sources import PAYLOAD, BagSource, read_text

Advance = Callable[[int], None]
"""Progress callback: called with the number of bytes just read."""

_MANIFEST = re.compile(r"^(tag)?manifest-([A-Za-z0-9]+)\.txt$")
_OXUM = re.compile(r"^\s*(\d+)\.(\d+)\s*$")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BagFile:
    """A payload file of a verified bag."""

    key: str
    """The key it is stored under: its path under ``data/``."""
    path: str
    """Its path in the bag (``data/...``)."""
    size: int
    checksums: dict[str, str] = field(hash=False)
    """Hex digests by algorithm: the bag's, and the MD5 measured."""


@dataclass
class VerifiedBag:
    """A bag whose every manifest has been checked."""

    source: BagSource
    files: list[BagFile]
    algorithms: list[str]
    """The payload manifests' algorithms."""

    @property
    def size(self) -> int:
        """Total bytes of the payload."""
        return sum(item.size for item in self.files)


def _algorithm(name: str) -> Optional[str]:
    name = name.lower()
    try:
        hashlib.new(name)
    except ValueError:
        return None
    return name


def _parse_manifest(text: str, manifest: str, problems: list[str]) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            problems.append(
                "{0} line {1}: not 'checksum path'".format(manifest, number)
            )
            continue
        path = decode_path(parts[1].strip(" \t"))
        if path in entries:
            problems.append("{0}: {1} listed twice".format(manifest, path))
        entries[path] = parts[0].lower()
    return entries


def _measure(
    source: BagSource, path: str, algorithms: Sequence[str], advance: Advance
) -> dict[str, str]:
    digests = {name: hashlib.new(name) for name in algorithms}
    with source.open(path) as stream:
        while chunk := stream.read(_CHUNK):
            for digest in digests.values():
                digest.update(chunk)
            advance(len(chunk))
    return {name: digest.hexdigest() for name, digest in digests.items()}


class _Verifier:
    def __init__(self, source: BagSource, advance: Advance) -> None:
        self.source = source
        self.advance = advance
        self.problems: list[str] = []
        self.tags = source.tag_files()

    def declaration(self) -> None:
        text = read_text(self.source, "bagit.txt")
        if text is None:
            self.problems.append("bagit.txt: missing")
            return
        fields = dict(
            (label.strip(), value.strip())
            for label, _, value in (line.partition(":") for line in text.splitlines())
        )
        if not fields.get("BagIt-Version"):
            self.problems.append("bagit.txt: no BagIt-Version")
        encoding = fields.get("Tag-File-Character-Encoding", "")
        if encoding.replace("-", "").upper() != "UTF8":
            self.problems.append(
                "bagit.txt: tag files in {0!r}, only UTF-8 is read".format(encoding)
            )
        fetch = read_text(self.source, "fetch.txt")
        if fetch and fetch.strip():
            self.problems.append("fetch.txt: files to fetch are not supported")

    def manifests(self, tag: bool) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for name in self.tags:
            match = _MANIFEST.match(name)
            if match is None or bool(match.group(1)) != tag:
                continue
            algorithm = _algorithm(match.group(2))
            if algorithm is None:
                self.problems.append("{0}: unknown algorithm".format(name))
                continue
            text = read_text(self.source, name) or ""
            found[algorithm] = _parse_manifest(text, name, self.problems)
        return found

    def tag_manifests(self) -> None:
        for algorithm, entries in self.manifests(tag=True).items():
            for path, expected in entries.items():
                if path not in self.tags:
                    self.problems.append("missing tag file: {0}".format(path))
                    continue
                actual = _measure(self.source, path, [algorithm], lambda _: None)
                if actual[algorithm] != expected:
                    self.problems.append(
                        "wrong {0} checksum: {1}".format(algorithm, path)
                    )

    def payload(self) -> tuple[list[BagFile], list[str]]:
        manifests = self.manifests(tag=False)
        if not manifests:
            self.problems.append("no payload manifest (manifest-<algorithm>.txt)")
        present = self.source.payload()
        listed: dict[str, dict[str, str]] = {}
        for algorithm, entries in manifests.items():
            for path, digest in entries.items():
                listed.setdefault(path, {})[algorithm] = digest
        self.completeness(listed, present)
        self.oxum(present)
        files = []
        keys: dict[str, str] = {}
        for path, expected in listed.items():
            if path in present:
                key = self.key(path, keys)
                actual = self.checked(path, expected)
                if key is not None and actual is not None:
                    files.append(BagFile(key, path, present[path], actual))
        return files, sorted(manifests)

    def completeness(
        self, listed: dict[str, dict[str, str]], present: dict[str, int]
    ) -> None:
        for path in listed:
            if not path.startswith(PAYLOAD):
                self.problems.append("not under data/: {0}".format(path))
            elif path not in present:
                self.problems.append("missing file: {0}".format(path))
        for path in present:
            if path not in listed:
                self.problems.append("in no manifest: {0}".format(path))

    def checked(self, path: str, expected: dict[str, str]) -> Optional[dict[str, str]]:
        # MD5 always: it is the checksum Files-REST keeps, and how a file
        # the record already holds is recognised.
        algorithms = sorted(set(expected) | {"md5"})
        try:
            actual = _measure(self.source, path, algorithms, self.advance)
        except (OSError, zipfile.BadZipFile) as error:
            self.problems.append("unreadable: {0} ({1})".format(path, error))
            return None
        wrong = [name for name in sorted(expected) if actual[name] != expected[name]]
        if wrong:
            self.problems.append(
                "wrong {0} checksum: {1}".format(", ".join(wrong), path)
            )
        return actual

    def key(self, path: str, keys: dict[str, str]) -> Optional[str]:
        try:
            key = validate_key(path[len(PAYLOAD) :])
        except InvalidFileKeyError as error:
            self.problems.append("{0}: {1}".format(path, error.message))
            return None
        if key in keys:
            self.problems.append(
                "{0} and {1} would both be stored as {2!r}".format(keys[key], path, key)
            )
            return None
        keys[key] = path
        return key

    def oxum(self, present: dict[str, int]) -> None:
        info = read_text(self.source, "bag-info.txt") or ""
        for line in info.splitlines():
            label, _, value = line.partition(":")
            if label.strip().lower() != "payload-oxum":
                continue
            match = _OXUM.match(value)
            actual = (sum(present.values()), len(present))
            if match is None or (int(match.group(1)), int(match.group(2))) != actual:
                self.problems.append(
                    "bag-info.txt: Payload-Oxum {0} but the payload is {1}.{2}".format(
                        value.strip(), *actual
                    )
                )


def verify_bag(source: BagSource, advance: Advance = lambda _: None) -> VerifiedBag:
    """Check every manifest of the bag, and return its payload files.

    Payload files come in the order of the manifests' lines.

    :raises InvalidBagError: with every problem found, each naming its file.
    """
    verifier = _Verifier(source, advance)
    verifier.declaration()
    verifier.tag_manifests()
    files, algorithms = verifier.payload()
    if verifier.problems:
        raise InvalidBagError(verifier.problems)
    return VerifiedBag(source, files, algorithms)


__all__ = ("BagFile", "VerifiedBag", "verify_bag")
