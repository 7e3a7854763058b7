"""Member count and size of zip files, from their central directory."""

from __future__ import annotations

from typing import Any, Optional

from ..archives.containers import limits
from ..archives.zipreader import read_directory
from .base import BoundedFile, Processor

MIMETYPES = frozenset(("application/zip", "application/x-zip-compressed"))


class ZipProcessor(Processor):
    """``{"members", "files", "folders", "size", "compressed_size"}`` of a zip file.

    Reads the central directory only, within the limits of zip browsing
    (``RECORDS_FILES_CONTAINER_MAX_*``).
    """

    name = "zip"

    def accepts(self, key: str, mimetype: Optional[str]) -> bool:
        """Zip files by MIME type or extension."""
        return mimetype in MIMETYPES or key.lower().endswith(".zip")

    def process(self, file: BoundedFile) -> dict[str, Any]:
        """Read the central directory."""
        directory = read_directory(file, limits())
        folders = sum(1 for member in directory.members if member.is_dir)
        return {
            "members": len(directory.members),
            "files": len(directory.members) - folders,
            "folders": folders,
            "size": directory.total_size,
            "compressed_size": sum(
                member.compressed_size for member in directory.members
            ),
        }


__all__ = ("ZipProcessor",)
