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
from ..storage import update_part

LOCAL_PART_LINK_LIFETIME = timedelta(days=7)
"""How long the part URLs of an upload through the application are announced valid."""


@dataclass(frozen=True)
class PartLayout:
    """How a file of ``size`` bytes is cut into ``parts`` parts."""

    size: int
    parts: int
    part_size: int
    """Size of every part but the last."""

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
        self, layout: PartLayout, number: int, stream: Any, length: int
    ) -> Optional[str]:
        """Write part ``number`` in place (through the application).

        The part is hashed only into the file's running checksums
        (:mod:`~invenio_records_files_ext.partsums`), not on its own.

        :returns: ``None`` with this package's local storage, else the
            checksum the storage gave.
        """
        if self.direct:
            raise TransferStateError(
                "The parts of this upload go to the storage directly: use the "
                "URLs in the file's links.parts."
            )
        # The part's own MD5 is not kept: only the file's checksums.
        return update_part(
            self.storage, stream, layout.offset(number), length, part_checksum=False
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


__all__ = ("LOCAL_PART_LINK_LIFETIME", "PartLayout", "PartsStorage")
