"""The settings of each concern but keys, fetching and zip files.

One frozen dataclass per concern, each read by its ``read`` class method
from a :class:`~.reading.Reader`; the tree (:class:`~.tree.Settings`)
holds one of each. The values are the application's, or the defaults of
:mod:`invenio_records_files_ext.config`; their meaning is documented
there, under the key named in each field's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Optional

from .reading import Reader


@dataclass(frozen=True)
class AccessSettings:
    """Who may read and change a record's files, and what readers see."""

    permission_factory: Any
    """``RECORDS_FILES_REST_PERMISSION_FACTORY`` (an import path or a callable)."""
    versions_permission: str
    """``RECORDS_FILES_VERSIONS_PERMISSION`` (``read`` or ``update``)."""
    owners_field: str
    """``RECORDS_FILES_OWNERS_FIELD``."""
    access_field: str
    """``RECORDS_FILES_ACCESS_FIELD``."""
    restricted_permission_factory: Any
    """``RECORDS_FILES_RESTRICTED_PERMISSION_FACTORY``."""
    restricted_visible_fields: tuple[str, ...]
    """``RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS``."""

    @classmethod
    def read(cls, reader: Reader) -> AccessSettings:
        """Read the settings with ``reader``."""
        return cls(
            permission_factory=reader.raw("RECORDS_FILES_REST_PERMISSION_FACTORY"),
            versions_permission=reader.raw("RECORDS_FILES_VERSIONS_PERMISSION"),
            owners_field=reader.text("RECORDS_FILES_OWNERS_FIELD"),
            access_field=reader.text("RECORDS_FILES_ACCESS_FIELD"),
            restricted_permission_factory=reader.raw(
                "RECORDS_FILES_RESTRICTED_PERMISSION_FACTORY"
            ),
            restricted_visible_fields=reader.strings(
                "RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS"
            ),
        )


@dataclass(frozen=True)
class EmbargoSettings:
    """Lifting embargoes."""

    batch_size: int
    """``RECORDS_FILES_EMBARGO_BATCH_SIZE``: records read at a time."""

    @classmethod
    def read(cls, reader: Reader) -> EmbargoSettings:
        """Read the settings with ``reader``."""
        return cls(batch_size=reader.integer("RECORDS_FILES_EMBARGO_BATCH_SIZE"))


@dataclass(frozen=True)
class BucketSettings:
    """New records' buckets (``RECORDS_FILES_BUCKET_*``, ``..._MEDIA_BUCKET_*``)."""

    location: Optional[str]
    """``RECORDS_FILES_BUCKET_LOCATION`` (``None``: the default location)."""
    storage_class: Optional[str]
    """``RECORDS_FILES_BUCKET_STORAGE_CLASS`` (``None``: Files-REST's default)."""
    quota_size: Optional[int]
    """``RECORDS_FILES_BUCKET_QUOTA_SIZE``."""
    max_file_size: Optional[int]
    """``RECORDS_FILES_BUCKET_MAX_FILE_SIZE``."""
    media_quota_size: Optional[int]
    """``RECORDS_FILES_MEDIA_BUCKET_QUOTA_SIZE``."""
    media_max_file_size: Optional[int]
    """``RECORDS_FILES_MEDIA_BUCKET_MAX_FILE_SIZE``."""

    @classmethod
    def read(cls, reader: Reader) -> BucketSettings:
        """Read the settings with ``reader``."""
        return cls(
            location=reader.optional_text("RECORDS_FILES_BUCKET_LOCATION"),
            storage_class=reader.optional_text("RECORDS_FILES_BUCKET_STORAGE_CLASS"),
            quota_size=reader.raw("RECORDS_FILES_BUCKET_QUOTA_SIZE"),
            max_file_size=reader.raw("RECORDS_FILES_BUCKET_MAX_FILE_SIZE"),
            media_quota_size=reader.raw("RECORDS_FILES_MEDIA_BUCKET_QUOTA_SIZE"),
            media_max_file_size=reader.raw("RECORDS_FILES_MEDIA_BUCKET_MAX_FILE_SIZE"),
        )


@dataclass(frozen=True)
class StorageSettings:
    """Writing bytes: chunks, checksums, durability."""

    upload_chunk_size: int
    """``RECORDS_FILES_UPLOAD_CHUNK_SIZE``, in bytes."""
    checksums: tuple[str, ...]
    """``RECORDS_FILES_CHECKSUMS``, as configured (not yet normalised)."""
    fsync: bool
    """``RECORDS_FILES_FSYNC``."""

    @classmethod
    def read(cls, reader: Reader) -> StorageSettings:
        """Read the settings with ``reader``."""
        return cls(
            upload_chunk_size=reader.integer("RECORDS_FILES_UPLOAD_CHUNK_SIZE"),
            checksums=reader.strings("RECORDS_FILES_CHECKSUMS"),
            fsync=reader.flag("RECORDS_FILES_FSYNC"),
        )


@dataclass(frozen=True)
class TransferSettings:
    """Announced files and their transfers (fetch limits aside)."""

    types: tuple[str, ...]
    """``RECORDS_FILES_TRANSFER_TYPES``: the transfer types enabled."""
    init_max_files: int
    """``RECORDS_FILES_INIT_MAX_FILES``."""
    pending_max_age: float
    """``RECORDS_FILES_PENDING_MAX_AGE``, in seconds."""
    multipart_max_parts: int
    """``RECORDS_FILES_MULTIPART_MAX_PARTS``."""
    fetch_lease: float
    """``RECORDS_FILES_FETCH_LEASE``, in seconds."""
    fetch_max_attempts: int
    """``RECORDS_FILES_FETCH_MAX_ATTEMPTS``."""
    remote_allowed_hosts: tuple[str, ...]
    """``RECORDS_FILES_REMOTE_ALLOWED_HOSTS``."""

    @classmethod
    def read(cls, reader: Reader) -> TransferSettings:
        """Read the settings with ``reader``."""
        return cls(
            types=reader.strings("RECORDS_FILES_TRANSFER_TYPES"),
            init_max_files=reader.integer("RECORDS_FILES_INIT_MAX_FILES"),
            pending_max_age=reader.number("RECORDS_FILES_PENDING_MAX_AGE"),
            multipart_max_parts=reader.integer("RECORDS_FILES_MULTIPART_MAX_PARTS"),
            fetch_lease=reader.number("RECORDS_FILES_FETCH_LEASE"),
            fetch_max_attempts=reader.integer("RECORDS_FILES_FETCH_MAX_ATTEMPTS"),
            remote_allowed_hosts=reader.strings("RECORDS_FILES_REMOTE_ALLOWED_HOSTS"),
        )


@dataclass(frozen=True)
class DumpSettings:
    """What records show of their files (``_files``, ``_files_summary``)."""

    summary: bool
    """``RECORDS_FILES_DUMP_SUMMARY``."""
    inline_max_entries: int
    """``RECORDS_FILES_INLINE_MAX_ENTRIES``."""

    @classmethod
    def read(cls, reader: Reader) -> DumpSettings:
        """Read the settings with ``reader``."""
        return cls(
            summary=reader.flag("RECORDS_FILES_DUMP_SUMMARY"),
            inline_max_entries=reader.integer("RECORDS_FILES_INLINE_MAX_ENTRIES"),
        )


@dataclass(frozen=True)
class ListingSettings:
    """Pages of a bucket's listing."""

    page_size: int
    """``RECORDS_FILES_LISTING_PAGE_SIZE``."""
    max_page_size: int
    """``RECORDS_FILES_LISTING_MAX_PAGE_SIZE``."""

    @classmethod
    def read(cls, reader: Reader) -> ListingSettings:
        """Read the settings with ``reader``."""
        return cls(
            page_size=reader.integer("RECORDS_FILES_LISTING_PAGE_SIZE"),
            max_page_size=reader.integer("RECORDS_FILES_LISTING_MAX_PAGE_SIZE"),
        )


@dataclass(frozen=True)
class RestSettings:
    """The files routes."""

    endpoints: Mapping[str, Mapping[str, str]]
    """``RECORDS_FILES_REST_ENDPOINTS``."""
    media_endpoints: Mapping[str, Mapping[str, str]]
    """``RECORDS_FILES_REST_MEDIA_ENDPOINTS``."""
    allow_range_requests: bool
    """``RECORDS_FILES_ALLOW_RANGE_REQUESTS``."""

    @classmethod
    def read(cls, reader: Reader) -> RestSettings:
        """Read the settings with ``reader``."""
        return cls(
            endpoints=reader.mapping("RECORDS_FILES_REST_ENDPOINTS"),
            media_endpoints=reader.mapping("RECORDS_FILES_REST_MEDIA_ENDPOINTS"),
            allow_range_requests=reader.flag("RECORDS_FILES_ALLOW_RANGE_REQUESTS"),
        )


@dataclass(frozen=True)
class CliSettings:
    """``flask records-files``."""

    default_pid_type: str
    """``RECORDS_FILES_CLI_DEFAULT_PID_TYPE``."""

    @classmethod
    def read(cls, reader: Reader) -> CliSettings:
        """Read the settings with ``reader``."""
        return cls(default_pid_type=reader.text("RECORDS_FILES_CLI_DEFAULT_PID_TYPE"))


@dataclass(frozen=True)
class ProcessorSettings:
    """Metadata extracted from completed files."""

    processors: tuple[Any, ...]
    """``RECORDS_FILES_PROCESSORS`` (import paths, classes or instances)."""
    timeout: float
    """``RECORDS_FILES_PROCESSORS_TIMEOUT``, in seconds."""
    max_read: int
    """``RECORDS_FILES_PROCESSORS_MAX_READ``, in bytes."""
    max_pixels: int
    """``RECORDS_FILES_PROCESSORS_MAX_PIXELS``."""

    @classmethod
    def read(cls, reader: Reader) -> ProcessorSettings:
        """Read the settings with ``reader``."""
        return cls(
            processors=reader.items("RECORDS_FILES_PROCESSORS"),
            timeout=reader.number("RECORDS_FILES_PROCESSORS_TIMEOUT"),
            max_read=reader.integer("RECORDS_FILES_PROCESSORS_MAX_READ"),
            max_pixels=reader.integer("RECORDS_FILES_PROCESSORS_MAX_PIXELS"),
        )


@dataclass(frozen=True)
class FixitySettings:
    """The fixity audit (``RECORDS_FILES_FIXITY_*``)."""

    interval: timedelta
    """``RECORDS_FILES_FIXITY_INTERVAL`` (seconds are read as a length of time)."""
    batch: int
    """``RECORDS_FILES_FIXITY_BATCH``."""
    lease: timedelta
    """``RECORDS_FILES_FIXITY_LEASE`` (seconds are read as a length of time)."""
    tasks: int
    """``RECORDS_FILES_FIXITY_TASKS``."""
    task_batches: int
    """``RECORDS_FILES_FIXITY_TASK_BATCHES``."""

    @classmethod
    def read(cls, reader: Reader) -> FixitySettings:
        """Read the settings with ``reader``."""
        return cls(
            interval=reader.duration("RECORDS_FILES_FIXITY_INTERVAL"),
            batch=reader.integer("RECORDS_FILES_FIXITY_BATCH"),
            lease=reader.duration("RECORDS_FILES_FIXITY_LEASE"),
            tasks=reader.integer("RECORDS_FILES_FIXITY_TASKS"),
            task_batches=reader.integer("RECORDS_FILES_FIXITY_TASK_BATCHES"),
        )


__all__ = (
    "AccessSettings",
    "BucketSettings",
    "CliSettings",
    "DumpSettings",
    "EmbargoSettings",
    "FixitySettings",
    "ListingSettings",
    "ProcessorSettings",
    "RestSettings",
    "StorageSettings",
    "TransferSettings",
)
