"""Zip files: the reader's :class:`Limits`, browsing inside them, archives and bags.

:class:`Limits` is what the pure zip reader
(:mod:`invenio_records_files_ext.archives.zipreader`, which exports it
too) refuses beyond; built by hand it takes the defaults of
:mod:`invenio_records_files_ext.config`, so the reader needs no
application. In the settings tree it is ``settings.containers.limits``,
read from the ``RECORDS_FILES_CONTAINER_MAX_*`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import config as defaults
from .reading import Reader


@dataclass(frozen=True)
class Limits:
    """What an archive may hold before it is refused."""

    max_members: int = defaults.RECORDS_FILES_CONTAINER_MAX_MEMBERS
    """More members: :class:`~invenio_records_files_ext.errors.ContainerTooLargeError`."""

    max_directory_size: int = defaults.RECORDS_FILES_CONTAINER_MAX_DIRECTORY_SIZE
    """Largest central directory read, in bytes (413 beyond)."""

    max_member_size: int = defaults.RECORDS_FILES_CONTAINER_MAX_MEMBER_SIZE
    """Largest member extracted, uncompressed, in bytes (413 beyond)."""

    max_ratio: int = defaults.RECORDS_FILES_CONTAINER_MAX_RATIO
    """Largest uncompressed/compressed ratio of a member (a zip bomb beyond)."""

    max_name_length: int = defaults.RECORDS_FILES_CONTAINER_MAX_NAME_LENGTH
    """Longest member name read, in bytes as stored (413 beyond)."""

    @classmethod
    def read(cls, reader: Reader) -> Limits:
        """Read the limits with ``reader``."""
        return cls(
            max_members=reader.integer("RECORDS_FILES_CONTAINER_MAX_MEMBERS"),
            max_directory_size=reader.integer(
                "RECORDS_FILES_CONTAINER_MAX_DIRECTORY_SIZE"
            ),
            max_member_size=reader.integer("RECORDS_FILES_CONTAINER_MAX_MEMBER_SIZE"),
            max_ratio=reader.integer("RECORDS_FILES_CONTAINER_MAX_RATIO"),
            max_name_length=reader.integer("RECORDS_FILES_CONTAINER_MAX_NAME_LENGTH"),
        )


@dataclass(frozen=True)
class ContainerSettings:
    """Browsing inside zip files (``RECORDS_FILES_CONTAINER_*``)."""

    limits: Limits = field(default_factory=Limits)
    """What an archive may hold before it is refused."""
    cache_bytes: int = defaults.RECORDS_FILES_CONTAINER_CACHE_BYTES
    """Memory for the cached tables of contents, in bytes."""
    page_size: int = defaults.RECORDS_FILES_CONTAINER_PAGE_SIZE
    """Members per page of a container listing when the request gives none."""
    max_page_size: int = defaults.RECORDS_FILES_CONTAINER_MAX_PAGE_SIZE
    """Largest ``size`` a request may ask of a container listing."""
    page_name_bytes: int = defaults.RECORDS_FILES_CONTAINER_PAGE_NAME_BYTES
    """Name bytes a container listing page may hold at most."""

    @classmethod
    def read(cls, reader: Reader) -> ContainerSettings:
        """Read the settings with ``reader``."""
        return cls(
            limits=Limits.read(reader),
            cache_bytes=reader.integer("RECORDS_FILES_CONTAINER_CACHE_BYTES"),
            page_size=reader.integer("RECORDS_FILES_CONTAINER_PAGE_SIZE"),
            max_page_size=reader.integer("RECORDS_FILES_CONTAINER_MAX_PAGE_SIZE"),
            page_name_bytes=reader.integer("RECORDS_FILES_CONTAINER_PAGE_NAME_BYTES"),
        )


@dataclass(frozen=True)
class ArchiveSettings:
    """A record's files as one zip archive or bag (``RECORDS_FILES_ARCHIVE_*``)."""

    chunk_size: int = defaults.RECORDS_FILES_ARCHIVE_CHUNK_SIZE
    """Bytes read from storage at a time (the default when set empty)."""
    block_size: int = defaults.RECORDS_FILES_ARCHIVE_BLOCK_SIZE
    """Small pieces are gathered into blocks of this many bytes."""
    bag_info: Mapping[str, Any] = field(
        default_factory=lambda: dict(defaults.RECORDS_FILES_BAG_INFO)
    )
    """The fields of ``bag-info.txt`` (``RECORDS_FILES_BAG_INFO``)."""

    @classmethod
    def read(cls, reader: Reader) -> ArchiveSettings:
        """Read the settings with ``reader``."""
        return cls(
            chunk_size=reader.integer_or_default("RECORDS_FILES_ARCHIVE_CHUNK_SIZE"),
            block_size=reader.integer_or_default("RECORDS_FILES_ARCHIVE_BLOCK_SIZE"),
            bag_info=reader.mapping("RECORDS_FILES_BAG_INFO"),
        )


__all__ = ("ArchiveSettings", "ContainerSettings", "Limits")
