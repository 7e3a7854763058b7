"""Exceptions raised by the records-files API and REST routes.

Every exception here is a :class:`RecordsFilesError`: it carries the HTTP
status and message the REST routes answer with, and most are also
:class:`ValueError` so that Python callers can treat them as bad input.
Locked or deleted buckets raise Invenio-Files-REST's own
:class:`~invenio_files_rest.errors.InvalidOperationError` family instead.
"""

from invenio_files_rest.errors import BucketLockedError, InvalidOperationError

__all__ = (
    "BucketLockedError",
    "ChecksumMismatchError",
    "FileKeyExistsError",
    "InvalidFileKeyError",
    "InvalidMetadataError",
    "InvalidOperationError",
    "RecordConflictError",
    "RecordGoneError",
    "RecordsFilesError",
)


class RecordsFilesError(Exception):
    """Base class of this package's errors; ``code`` is the HTTP status."""

    code = 400

    def __init__(self, message=None):
        """Store the human readable message."""
        self.message = message or self.__doc__.splitlines()[0]
        super().__init__(self.message)


class InvalidFileKeyError(RecordsFilesError, ValueError):
    """The file key is not acceptable."""

    def __init__(self, key, reason):
        """Remember the refused key and why it was refused."""
        self.key = key
        self.reason = reason
        super().__init__("Invalid file key: {0}.".format(reason))


class InvalidMetadataError(RecordsFilesError, ValueError):
    """A per-file metadata value cannot be stored in the record's JSON."""

    def __init__(self, name, reason):
        """Remember the metadata name and why its value was refused."""
        self.name = name
        self.reason = reason
        super().__init__("Invalid metadata {0!r}: {1}.".format(name, reason))


class FileKeyExistsError(RecordsFilesError, ValueError):
    """A file with this key already exists in the record."""

    code = 409

    def __init__(self, key):
        """Remember the conflicting key."""
        self.key = key
        super().__init__("A file with key {0!r} already exists.".format(key))


class ChecksumMismatchError(RecordsFilesError, ValueError):
    """The body does not match the checksum announced for it."""

    def __init__(self, expected, actual):
        """Keep both checksums for the caller."""
        self.expected = expected
        self.actual = actual
        super().__init__(
            "Content-MD5 does not match the body "
            "(announced {0}, received {1}).".format(expected, actual)
        )


class RecordConflictError(RecordsFilesError):
    """The record was changed by another transaction; reload it and retry."""

    code = 409


class RecordGoneError(RecordsFilesError):
    """The record has been deleted."""

    code = 410
