"""Multipart uploads at the storage: one URL per part, direct when possible.

A storage that knows multipart uploads (invenio-s3's ``S3FSFileStorage``:
``multipart_initialize_upload``, ``multipart_links``...) takes the parts
itself: the client gets a presigned URL per part and the bytes never pass
through the application. Any other storage (local folders) gets the parts
through the application: the file is allocated at its full size when the
upload starts and each part is written in place at its offset.

:class:`PartLayout` says how the file is cut (parts are numbered from 1, as
in InvenioRDM and S3); :class:`PartsStorage` wraps a storage object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from ..errors import InvalidTransferError, TransferStateError, describe
from ..storage.hashing import check_written_md5, parse_content_md5
from ..storage.writes import update_part

LOCAL_PART_LINK_LIFETIME = timedelta(days=7)
"""How long the part URLs of an upload through the application are announced valid."""


@dataclass(frozen=True)
class PartLayout:
    """How a file of ``size`` bytes is cut into ``parts`` parts."""

    size: int
    parts: int
    part_size: int
    """Size of every part but the last."""

    @classmethod
    def of(cls, size: int, part_size: int) -> PartLayout:
        """Cut ``size`` bytes into parts of ``part_size`` (the last: the rest).

        A size that is an exact multiple of ``part_size`` ends with a whole
        part (Files-REST's ``last_part_size`` says 0 for it, which is not a
        part's length).
        """
        return cls(size, max(1, -(-size // part_size)), part_size)

    @classmethod
    def checked(cls, size: int, parts: int, part_size: Optional[int]) -> PartLayout:
        """Return the layout of ``parts`` parts holding ``size`` bytes.

        :param part_size: size of every part but the last; by default the
            smallest that holds ``size`` bytes in ``parts`` parts.
        :raises InvalidTransferError: the parts cannot hold the bytes.
        """
        if part_size is None:
            part_size = max(1, -(-size // parts))
        if not (parts - 1) * part_size < max(size, 1) <= parts * part_size:
            raise InvalidTransferError(
                "{0} parts of {1} bytes cannot hold {2} bytes (every part but the "
                "last is 'part_size' bytes long).".format(parts, part_size, size)
            )
        return cls(size, parts, part_size)

    def missing(self, received: Any) -> list[int]:
        """Return the numbers of the parts not in ``received``, in order."""
        return sorted(set(range(1, self.parts + 1)) - set(received))

    def length(self, number: int) -> int:
        """Return the length of part ``number`` (1-based)."""
        self.check_number(number)
        if number < self.parts:
            return self.part_size
        return self.size - (self.parts - 1) * self.part_size

    def offset(self, number: int) -> int:
        """Return where part ``number`` starts in the file."""
        self.check_number(number)
        return (number - 1) * self.part_size

    def check_number(self, number: int) -> None:
        """Refuse a part number outside ``1..parts``."""
        if not 1 <= number <= self.parts:
            raise InvalidTransferError(
                "Part {0} does not exist: the upload has parts 1 to {1}.".format(
                    number, self.parts
                )
            )

    def check_length(self, number: int, content_length: Optional[int]) -> int:
        """Refuse a part whose length is not the one announced; return it."""
        expected = self.length(number)
        if content_length is not None and content_length != expected:
            raise InvalidTransferError(
                "Part {0} must be {1} bytes long, not {2}.".format(
                    number, expected, content_length
                )
            )
        return expected

    def to_json(self) -> dict[str, int]:
        """Return the layout as stored in the transfer's details."""
        return {"size": self.size, "parts": self.parts, "part_size": self.part_size}

    @classmethod
    def from_json(cls, details: dict[str, Any]) -> PartLayout:
        """Read a layout stored by :meth:`to_json`."""
        return cls(
            int(details["size"]), int(details["parts"]), int(details["part_size"])
        )


def write_part(
    storage: Any,
    layout: PartLayout,
    number: int,
    stream: Any,
    content_md5: Optional[str] = None,
    part_checksum: bool = True,
) -> Optional[str]:
    """Write part ``number`` of ``layout`` in place, at its offset in ``storage``.

    The one way both multipart protocols write a part. The Content-MD5,
    when given, is parsed before any byte is read and compared with the
    bytes written: a part that does not match raises, and the caller
    forgets it (its bytes may have overwritten an earlier upload of it).

    :param part_checksum: whether the caller needs the part's own MD5
        (see :func:`~invenio_records_files_ext.storage.writes.update_part`).
    :returns: the part's checksum (as the storage gives it).
    :raises invenio_records_files_ext.errors.InvalidContentMD5Error: the
        Content-MD5 is not an MD5 digest.
    :raises invenio_records_files_ext.errors.ChecksumMismatchError: the
        part does not match its Content-MD5.
    """
    expected = parse_content_md5(content_md5) if content_md5 is not None else None
    # The storage's write loop hashes the part beside the write: its MD5
    # comes back from the write, nothing is read twice.
    checksum = update_part(
        storage,
        stream,
        layout.offset(number),
        layout.length(number),
        part_checksum=part_checksum or expected is not None,
    )
    if expected is not None:
        check_written_md5(checksum, expected)
    return checksum


class PartsStorage:
    """A storage object seen as the target of a multipart upload."""

    def __init__(self, storage: Any) -> None:
        """Wrap an Invenio-Files-REST storage object."""
        self.storage = storage

    @property
    def direct(self) -> bool:
        """Whether the client sends the parts to the storage itself."""
        return hasattr(self.storage, "multipart_initialize_upload")

    @property
    def uri(self) -> str:
        """Where the file's bytes live."""
        return str(self.storage.fileurl)

    def initialize(self, layout: PartLayout) -> dict[str, Any]:
        """Start the upload; return what the storage must be given again later."""
        if self.direct:
            started = self.storage.multipart_initialize_upload(
                layout.parts, layout.size, layout.part_size
            )
            return dict(started or {})
        self.storage.initialize(size=layout.size)
        return {}

    def _arguments(self, layout: PartLayout, state: dict[str, Any]) -> dict[str, Any]:
        return dict(state, **layout.to_json())

    def write_part(
        self,
        layout: PartLayout,
        number: int,
        stream: Any,
        content_md5: Optional[str] = None,
    ) -> Optional[str]:
        """Write part ``number`` in place (through the application).

        See :func:`write_part`. Without a Content-MD5 the part is hashed
        only into the file's running checksums
        (:mod:`~invenio_records_files_ext.storage.partsums`), not on its own.

        :returns: the part's checksum (``None`` with this package's local
            storage when no Content-MD5 was given).
        :raises invenio_records_files_ext.errors.InvalidContentMD5Error: the
            Content-MD5 is not an MD5 digest.
        :raises invenio_records_files_ext.errors.ChecksumMismatchError: the
            part does not match its Content-MD5.
        """
        if self.direct:
            raise TransferStateError(
                "The parts of this upload go to the storage directly: use the "
                "URLs in the file's links.parts."
            )
        # Without a Content-MD5 the part's own MD5 is not needed: only the
        # file's checksums, which the storage's write loop keeps.
        return write_part(
            self.storage, layout, number, stream, content_md5, part_checksum=False
        )

    def part_links(
        self, layout: PartLayout, state: dict[str, Any], base_url: Optional[str]
    ) -> list[dict[str, Any]]:
        """Return ``[{"part": n, "url": ..., "expiration": ...}, ...]``.

        :param base_url: the file's URL in the application (local parts go to
            ``<base_url>/content/<n>``).
        """
        if self.direct:
            links = self.storage.multipart_links(**self._arguments(layout, state))
            return list(links.get("parts", []))
        if base_url is None:
            return []
        expiration = (datetime.now(timezone.utc) + LOCAL_PART_LINK_LIFETIME).isoformat()
        return [
            {
                "part": number,
                "url": "{0}/content/{1}".format(base_url, number),
                "expiration": expiration,
            }
            for number in range(1, layout.parts + 1)
        ]

    def complete(self, layout: PartLayout, state: dict[str, Any]) -> None:
        """Assemble the parts at the storage (direct uploads)."""
        if self.direct:
            try:
                self.storage.multipart_commit_upload(**self._arguments(layout, state))
            except Exception as error:
                raise TransferStateError(
                    "The storage could not assemble the parts: {0}".format(
                        describe(error)
                    )
                ) from error

    def abort(self, layout: PartLayout, state: dict[str, Any]) -> None:
        """Give up the upload at the storage (direct uploads)."""
        if self.direct:
            self.storage.multipart_abort_upload(**self._arguments(layout, state))


__all__ = ("LOCAL_PART_LINK_LIFETIME", "PartLayout", "PartsStorage", "write_part")
