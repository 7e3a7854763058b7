"""A record's files as a BagIt bag (RFC 8493), streamed as a zip.

:class:`BagLayout` is a layout of the streamed files archive
(:func:`invenio_records_files_ext.archives.archive.stream_archive`): the same files,
chosen by the same rules and read the same way, under
``<base>/data/<key>`` in the record's order, with the bag's tag files
around them:

* ``bagit.txt`` first;
* after the files, ``bag-info.txt`` (``Payload-Oxum``, ``Bagging-Date``,
  ``External-Identifier``, the record's title and the site's
  ``RECORDS_FILES_BAG_INFO`` fields), one ``manifest-<alg>.txt`` for each
  algorithm every file has a stored checksum of, and a
  ``tagmanifest-<alg>.txt`` for each of them.

The payload is not hashed again: the manifests are written from the
checksums kept for the files (:mod:`invenio_records_files_ext.storage.checksums`),
read a page at a time with the file rows. Only a file that has no stored
MD5 at all is read to hash it, so that every bag has a complete MD5
manifest. The manifests are gathered in memory as they are written (the
hex digest and the path per file and algorithm), like the zip's central
directory.

Paths in the manifests are percent-encoded as RFC 8493 (section 2.1.3)
asks: ``%``, line feed and carriage return, and nothing else
(:func:`encode_path`, :func:`decode_path`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional, Union

from ..settings.current import current
from ..storage import checksums
from ..storage.checksums import SUPPORTED, configured_algorithms
from .archive import ArchiveMember, files_layout

# The batch read of the checksums kept beside the MD5 (one query per page
# of files), where the checksums table exists; without it a file has its
# MD5 only.
_checksums_by_file: Optional[Callable[[list[Any]], Mapping[Any, Mapping[str, str]]]] = (
    getattr(checksums, "checksums_by_file", None)
)

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
"""The bag declaration: BagIt 1.0, tag files in UTF-8."""

_ENCODED = re.compile("%(25|0A|0D)", re.IGNORECASE)
_DECODED = {"25": "%", "0A": "\n", "0D": "\r"}

InfoValue = Union[str, Sequence[str]]
"""A bag-info field's value: one string, or several for a repeated label."""


def encode_path(path: str) -> str:
    """Return ``path`` as a manifest writes it (``%``, LF and CR encoded)."""
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def decode_path(text: str) -> str:
    """Return the path a manifest line names (the inverse of :func:`encode_path`).

    Only ``%25``, ``%0A`` and ``%0D`` are decoded: RFC 8493 encodes those
    characters and no others, so any other ``%`` sequence is the path's own.
    """
    return _ENCODED.sub(lambda match: _DECODED[match.group(1).upper()], text)


def _one_line(value: Any) -> str:
    # A tag value is one line; white space runs (line breaks included)
    # become one space rather than continuation lines, which few readers
    # fold back the same way.
    return " ".join(str(value).split())


def bag_info_text(fields: Iterable[tuple[str, str]]) -> bytes:
    """Return the bytes of a ``bag-info.txt`` holding ``fields`` in order."""
    lines = []
    for label, value in fields:
        label = _one_line(label).replace(":", "")
        if label:
            lines.append("{0}: {1}\n".format(label, _one_line(value)))
    return "".join(lines).encode("utf-8")


def manifest_line(digest: str, path: str) -> bytes:
    """Return one manifest line: the digest, two spaces, the encoded path."""
    return "{0}  {1}\n".format(digest, encode_path(path)).encode("utf-8")


@dataclass
class _Manifest:
    """The lines of one algorithm's payload manifest, while complete."""

    lines: bytearray = field(default_factory=bytearray)
    complete: bool = True


class BagLayout:
    """The BagIt layout of the streamed archive (see the module's text).

    An instance is a layout of :mod:`invenio_records_files_ext.archives.archive`:
    called with ``(bucket_id, page_size)`` it yields the bag's members in
    order, their sizes known as each is yielded, so that the archive's
    length is counted before its first byte. Each call starts afresh (the
    archive calls it once to count and once to write).

    :param base: the bag's base directory inside the zip (every member
        is under it, as RFC 8493 asks of a serialised bag).
    :param info: the ``bag-info.txt`` fields written before the payload's
        own (``Payload-Oxum``...), in order.
    :param now: the bagging moment (default: when the layout is made).
    """

    def __init__(
        self,
        base: str,
        info: Sequence[tuple[str, str]] = (),
        now: Optional[datetime] = None,
    ) -> None:
        """Start an empty bag."""
        self.base = base
        self.info = list(info)
        self.now = now or datetime.now(timezone.utc)
        self._reset()

    def _reset(self) -> None:
        self.octets = 0
        """Payload bytes so far."""
        self.count = 0
        """Payload files so far."""
        self._manifests = {name: _Manifest() for name in SUPPORTED}

    def path(self, name: str) -> str:
        """Return the zip member name of ``name`` (relative to the bag)."""
        return "{0}/{1}".format(self.base, name)

    def _tag(self, name: str, data: bytes) -> ArchiveMember:
        moment = self.now.replace(tzinfo=None)
        return ArchiveMember(self.path(name), len(data), lambda _: (data,), moment)

    def __call__(self, bucket_id: Any, page_size: int) -> Iterator[ArchiveMember]:
        """Yield ``bagit.txt``, the payload, then the other tag files."""
        self._reset()
        yield self._tag("bagit.txt", BAGIT_TXT)
        page: list[ArchiveMember] = []
        for member in files_layout(bucket_id, page_size):
            page.append(member)
            if len(page) >= page_size:
                yield from self._payload(page)
                page = []
        yield from self._payload(page)
        yield from self._closing()

    def _payload(self, members: list[ArchiveMember]) -> Iterator[ArchiveMember]:
        """Yield a page of files under ``data/``, noting their manifest lines.

        The MD5 is a column of the rows already read; the other algorithms'
        digests are read for the whole page at once (at most one query).
        """
        if not members:
            return
        rows = [member.row for member in members]
        others = _other_checksums([row.file_id for row in rows])
        for member in members:
            row = member.row
            path = "data/" + row.key
            known = {**_md5_of(row.checksum), **others.get(row.file_id, {})}
            if "md5" not in known:
                # Rare (Files-REST keeps an MD5 of what it stores): the bag
                # needs a complete MD5 manifest, so such a file is read.
                known["md5"] = _md5_of_chunks(member.open(1024 * 1024))
            self.octets += member.size
            self.count += 1
            self._note(path, known)
            yield ArchiveMember(
                self.path(path), member.size, member.open, member.modified, row
            )

    def _note(self, path: str, known: Mapping[str, str]) -> None:
        for name, manifest in self._manifests.items():
            if not manifest.complete:
                continue
            digest = known.get(name)
            if digest:
                manifest.lines += manifest_line(digest.lower(), path)
            else:
                # One file without it: no manifest of that algorithm, the
                # bag would not be complete with it.
                manifest.complete = False
                manifest.lines = bytearray()

    def algorithms(self) -> list[str]:
        """Return the algorithms the bag has complete manifests of.

        A bag without files has those the application keeps.
        """
        if not self.count:
            return list(configured_algorithms())
        return [name for name, kept in self._manifests.items() if kept.complete]

    def bag_info(self) -> bytes:
        """Return ``bag-info.txt`` (known once the payload has been listed)."""
        fields = list(self.info)
        fields.append(("Bagging-Date", self.now.date().isoformat()))
        fields.append(("Payload-Oxum", "{0}.{1}".format(self.octets, self.count)))
        return bag_info_text(fields)

    def _closing(self) -> Iterator[ArchiveMember]:
        """Yield ``bag-info.txt``, the payload manifests and the tag manifests."""
        algorithms = self.algorithms()
        tags = [("bagit.txt", BAGIT_TXT), ("bag-info.txt", self.bag_info())]
        tags.extend(
            ("manifest-{0}.txt".format(name), bytes(self._manifests[name].lines))
            for name in algorithms
        )
        if not self.count:
            # An empty payload is still a data/ directory once unzipped.
            yield self._tag("data/", b"")
        # bagit.txt went out first; the tag manifests cover it too.
        for name, data in tags[1:]:
            yield self._tag(name, data)
        for algorithm in algorithms:
            lines = b"".join(
                manifest_line(hashlib.new(algorithm, data).hexdigest(), name)
                for name, data in tags
            )
            yield self._tag("tagmanifest-{0}.txt".format(algorithm), lines)


def _md5_of_chunks(chunks: Iterable[bytes]) -> str:
    md5 = hashlib.md5()
    for chunk in chunks:
        md5.update(chunk)
    return md5.hexdigest()


def _md5_of(column: Optional[str]) -> dict[str, str]:
    algorithm, _, value = (column or "").partition(":")
    return {"md5": value} if algorithm == "md5" and value else {}


def _other_checksums(file_ids: list[Any]) -> Mapping[Any, Mapping[str, str]]:
    if _checksums_by_file is None:
        return {}
    return _checksums_by_file(file_ids)


def record_title(record: Any) -> Optional[str]:
    """Return the record's title (``title``, else ``metadata.title``), if any."""
    title = record.get("title") if record is not None else None
    if not title and record is not None:
        metadata = record.get("metadata")
        title = metadata.get("title") if isinstance(metadata, Mapping) else None
    return str(title) if title else None


def _config_fields(configured: Any) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for label, value in (configured or {}).items():
        values = [value] if isinstance(value, str) else list(value)
        fields.extend((str(label), str(item)) for item in values)
    return fields


def bag_name(pid_value: Any, role: str = "files") -> str:
    """Return a record's bag name: its base directory and download name stem."""
    suffix = "" if role == "files" else "-" + role
    return "{0}{1}-bag".format(str(pid_value).replace("/", "_"), suffix)


def bag_layout(pid_value: Any, record: Any = None, role: str = "files") -> BagLayout:
    """Return the layout of a record's bag, from the application's settings.

    ``bag-info.txt`` holds ``RECORDS_FILES_BAG_INFO``'s fields (labels to
    a value or a list of values: ``Source-Organization``, ``Contact-Name``,
    ``Contact-Email``...), then ``External-Identifier`` (the PID), the
    record's ``Title``, and what the payload gives.
    """
    fields = _config_fields(current().archives.bag_info)
    fields.append(("External-Identifier", str(pid_value)))
    title = record_title(record)
    if title:
        fields.append(("Title", title))
    fields.append(("Bag-Software-Agent", "invenio-records-files-ext"))
    return BagLayout(bag_name(pid_value, role), fields)


__all__ = (
    "BAGIT_TXT",
    "BagLayout",
    "bag_info_text",
    "bag_layout",
    "bag_name",
    "decode_path",
    "encode_path",
    "manifest_line",
    "record_title",
)
