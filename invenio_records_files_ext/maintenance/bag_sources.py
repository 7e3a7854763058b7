"""Reading a BagIt bag as it is given: a folder, or a zip file.

A :class:`BagSource` answers the few questions verifying and ingesting a
bag asks: the bag's top-level tag files, the files under ``data/`` with
their sizes, and each file's bytes. Paths are relative to the bag's base
directory, with ``/`` as separator (``data/sub/file.txt``).

A zipped bag holds the bag at its root or, as RFC 8493 serialises a bag,
under a single top-level directory. Nothing is extracted: members are
read in place.
"""

from __future__ import annotations

import os
import zipfile
from typing import IO, Optional, Protocol

from ..errors import InvalidBagError

PAYLOAD = "data/"
"""Where a bag's payload files are, relative to its base directory."""


class BagSource(Protocol):
    """A bag to read (see the module's text)."""

    name: str
    """The bag as given (its path), for messages."""

    def tag_files(self) -> list[str]:
        """Return the names of the files at the bag's top level."""
        ...  # pragma: no cover

    def payload(self) -> dict[str, int]:
        """Return every file under ``data/``, by path, with its size."""
        ...  # pragma: no cover

    def open(self, path: str) -> IO[bytes]:
        """Open a file of the bag for reading."""
        ...  # pragma: no cover

    def close(self) -> None:
        """Release what the source holds open."""
        ...  # pragma: no cover


class FolderBag:
    """A bag in a folder of the local file system."""

    def __init__(self, root: str) -> None:
        """Read the bag whose base directory is ``root``."""
        self.name = root
        self.root = os.path.abspath(root)

    def _local(self, path: str) -> str:
        return os.path.join(self.root, *path.split("/"))

    def tag_files(self) -> list[str]:
        """Return the regular files at the top level."""
        return sorted(
            name
            for name in os.listdir(self.root)
            if os.path.isfile(os.path.join(self.root, name))
        )

    def payload(self) -> dict[str, int]:
        """Return the regular files under ``data/`` (linked folders not followed)."""
        found: dict[str, int] = {}
        top = os.path.join(self.root, "data")
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                local = os.path.join(dirpath, name)
                relative = os.path.relpath(local, self.root).replace(os.sep, "/")
                found[relative] = os.path.getsize(local)
        return found

    def open(self, path: str) -> IO[bytes]:
        """Open a file of the bag."""
        return open(self._local(path), "rb")

    def close(self) -> None:
        """Nothing is held open."""


class ZipBag:
    """A bag in a zip file, at its root or under one top-level directory."""

    def __init__(self, path: str) -> None:
        """Open the zip file and find the bag's base directory in it.

        :raises InvalidBagError: not a zip file, or no ``bagit.txt`` where
            a bag's base directory would be.
        """
        self.name = path
        try:
            self.zipped = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as error:
            raise InvalidBagError(
                ["{0}: not a zip file ({1})".format(path, error)]
            ) from None
        self.members = {
            info.filename: info for info in self.zipped.infolist() if not info.is_dir()
        }
        self.base = self._base()

    def _base(self) -> str:
        if "bagit.txt" in self.members:
            return ""
        tops = {name.split("/", 1)[0] for name in self.members}
        if len(tops) == 1:
            base = tops.pop() + "/"
            if base + "bagit.txt" in self.members:
                return base
        self.zipped.close()
        raise InvalidBagError(
            ["{0}: no bagit.txt at the top or in one top folder".format(self.name)]
        )

    def _inside(self) -> dict[str, zipfile.ZipInfo]:
        size = len(self.base)
        return {
            name[size:]: info
            for name, info in self.members.items()
            if name.startswith(self.base)
        }

    def tag_files(self) -> list[str]:
        """Return the members at the bag's top level."""
        return sorted(name for name in self._inside() if "/" not in name)

    def payload(self) -> dict[str, int]:
        """Return the members under ``data/``, with their sizes."""
        return {
            name: info.file_size
            for name, info in self._inside().items()
            if name.startswith(PAYLOAD)
        }

    def open(self, path: str) -> IO[bytes]:
        """Open a member (its CRC is checked when read to the end)."""
        return self.zipped.open(self.members[self.base + path])

    def close(self) -> None:
        """Close the zip file."""
        self.zipped.close()


def open_bag(path: str) -> BagSource:
    """Return the bag at ``path``: a folder, or a zip file.

    :raises InvalidBagError: neither, or a zip file without a bag.
    """
    if os.path.isdir(path):
        return FolderBag(path)
    if os.path.isfile(path):
        return ZipBag(path)
    raise InvalidBagError(["{0}: neither a folder nor a zip file".format(path)])


def read_text(source: BagSource, name: str) -> Optional[str]:
    """Return a tag file's text (UTF-8), or None when the bag has none."""
    if name not in source.tag_files():
        return None
    with source.open(name) as stream:
        data = stream.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidBagError(["{0}: not UTF-8 text".format(name)]) from None


__all__ = ("PAYLOAD", "BagSource", "FolderBag", "ZipBag", "open_bag", "read_text")
