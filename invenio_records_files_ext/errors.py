"""Exceptions raised by the records-files API and REST routes.

Every exception this package defines is a :class:`RecordsFilesError`: it
carries the HTTP status (``code``) and the message the REST routes answer
with, and those that mean "bad input" are also :class:`ValueError` (or
:class:`KeyError`) so that Python callers can catch them the usual way.
Locked or deleted buckets raise Invenio-Files-REST's own
:class:`~invenio_files_rest.errors.InvalidOperationError` family, which is
re-exported here so that one import gives every error.

How the family is kept (a choice, made once): **one module, grouped by
concern**, not one errors module per subpackage, and each error keeps its
HTTP status as ``code`` rather than leaving it to a table in
:mod:`invenio_records_files_ext.rest.errors`. An application catches any of
them from one path, as it does Invenio-Files-REST's; ``code`` is what
Invenio-REST's and Invenio-Files-REST's own errors carry and what the
original module's users read; and the status of an error is decided where
its meaning is written. :mod:`~invenio_records_files_ext.rest.errors` only turns them into
JSON answers (headers included, such as ``Content-Range`` for a 416).

The groups, each after the subpackages that raise its errors:

* the base, :class:`RecordsFilesError`, and :func:`describe`;
* keys, metadata and the files of a record (``db.keys``, ``files``);
* upload bodies and checksums (``streams.uploads``, ``storage``);
* pages and ranges (``rest.listing``, ``files.queries``,
  ``streams.downloads``);
* records and access (``records``, ``access``, ``rest.base``);
* transfers (``transfers``);
* archives and containers (``archives``);
* imports, maintenance, processors and configuration
  (``records.imports``, ``maintenance``, ``processors``, ``config``).
"""

from __future__ import annotations

from typing import Any, Optional

from invenio_files_rest.errors import BucketLockedError, InvalidOperationError

__all__ = (
    "UnsupportedBodyError",
    "ArchiveSizeError",
    "ConfigurationError",
    "FileNotInRecordError",
    "MetadataKeyError",
    "NotANewVersionError",
    "NotThePreviousVersionError",
    "AttachStoppedError",
    "BodyTooSmallError",
    "BrokenContainerError",
    "BucketLockedError",
    "ChecksumMismatchError",
    "ContainerError",
    "ContainerTooLargeError",
    "ContentLengthRequiredError",
    "CopyOntoItselfError",
    "DuplicateFileKeyError",
    "FileKeyExistsError",
    "FilePendingError",
    "FilesAlreadyImportedError",
    "FilesImportError",
    "FilesNotEmptyError",
    "FilesNotEnabledError",
    "FilesAlreadySetError",
    "InvalidAccessError",
    "InvalidBagError",
    "InvalidContentMD5Error",
    "InvalidCursorError",
    "InvalidFileKeyError",
    "InvalidFileOrderError",
    "InvalidMetadataError",
    "InvalidOperationError",
    "InvalidPageSizeError",
    "InvalidTransferError",
    "InvalidTransferURLError",
    "LocalPathError",
    "LoginRequiredError",
    "MemberNotFoundError",
    "NoBucketError",
    "NoMediaFilesError",
    "NotAContainerError",
    "PermissionDeniedError",
    "ProcessorLimitError",
    "RangeNotSatisfiableError",
    "RemoteContainerError",
    "RecordConflictError",
    "RecordGoneError",
    "RecordNotFoundError",
    "RecordsFilesError",
    "RemoteURLRefusedError",
    "SizeMismatchError",
    "ReservedMetadataError",
    "TooManyFilesError",
    "TransferFailedError",
    "TransferStateError",
    "TransientTransferError",
    "UnknownArchiveFormatError",
    "UnknownIdentifierError",
    "UnsupportedMemberError",
    "ZipBombError",
    "describe",
)


#
# The base of the family
#


class RecordsFilesError(Exception):
    """Base class of this package's errors; ``code`` is the HTTP status."""

    code = 400

    def __init__(self, message: str | None = None) -> None:
        """Store the human readable message."""
        self.message = message or (self.__doc__ or "").splitlines()[0]
        super().__init__(self.message)

    def __str__(self) -> str:
        """Return the message (also for :class:`KeyError` subclasses)."""
        return self.message


def describe(error: BaseException) -> str:
    """Return the most telling one-line text of any exception.

    This package's errors and Invenio's REST errors carry a ``message`` or
    a ``description``; others fall back to ``str()`` or the class name.
    """
    return (
        getattr(error, "message", None)
        or getattr(error, "description", None)
        or str(error)
        or type(error).__name__
    )


#
# Keys, metadata and the files of a record (db.keys, files)
#


class InvalidFileKeyError(RecordsFilesError, ValueError):
    """The file key is not acceptable."""

    def __init__(self, key: Any, reason: str) -> None:
        """Remember the refused key and why it was refused."""
        self.key = key
        self.reason = reason
        super().__init__("Invalid file key: {0}.".format(reason))


class InvalidMetadataError(RecordsFilesError, ValueError):
    """A per-file metadata value cannot be stored."""

    def __init__(self, name: Any, reason: str) -> None:
        """Remember the metadata name and why its value was refused."""
        self.name = name
        self.reason = reason
        super().__init__("Invalid metadata {0!r}: {1}.".format(name, reason))


class ReservedMetadataError(InvalidMetadataError):
    """A per-file metadata name this library keeps for itself."""

    def __init__(self, name: Any) -> None:
        """Name the reserved metadata key."""
        super().__init__(name, "this name is reserved for the library")


class MetadataKeyError(RecordsFilesError, KeyError):
    """The file has no such metadata, or the name belongs to its object version."""

    code = 404

    def __init__(self, name: Any, reason: Optional[str] = None) -> None:
        """Remember the metadata name and why it cannot be used.

        Without a ``reason`` the name is missing (404); with one, it cannot
        be used (400).
        """
        self.name = name
        if reason is not None:
            self.code = 400
        reason = reason or "the file has no such metadata"
        super().__init__("Metadata {0!r}: {1}.".format(name, reason))
        self.args = (name,)


class FileKeyExistsError(RecordsFilesError, ValueError):
    """A file with this key already exists in the record."""

    code = 409

    def __init__(self, key: str) -> None:
        """Remember the conflicting key."""
        self.key = key
        super().__init__("A file with key {0!r} already exists.".format(key))


class DuplicateFileKeyError(RecordsFilesError, ValueError):
    """The same key is given more than once in one request."""

    def __init__(self, key: str) -> None:
        """Remember the repeated key."""
        self.key = key
        super().__init__("The key {0!r} is given more than once.".format(key))


class FileNotInRecordError(RecordsFilesError, KeyError):
    """The record has no such file (also a :class:`KeyError`, as a mapping's)."""

    code = 404

    def __init__(self, key: Any) -> None:
        """Remember the key that was asked for."""
        self.key = key
        super().__init__("The record has no file {0!r}.".format(key))
        # As a mapping's KeyError: code reading ``error.args[0]`` gets the key.
        self.args = (key,)


class FilesAlreadySetError(RecordsFilesError, RuntimeError):
    """Can not update existing files: the record already has files."""

    code = 409


class InvalidFileOrderError(RecordsFilesError, ValueError):
    """A new order of the files names a file more than once."""


class CopyOntoItselfError(RecordsFilesError, ValueError):
    """A record's files cannot be copied onto themselves."""


class TooManyFilesError(RecordsFilesError, KeyError):
    """The record holds too many files to show them inline.

    Raised by ``record["_files"]`` when the record holds more files than
    ``RECORDS_FILES_INLINE_MAX_ENTRIES``: use ``record.files`` (it streams)
    or the paginated REST listing instead.
    """

    def __init__(self, count_limit: int) -> None:
        """Remember the limit that was passed."""
        self.limit = count_limit
        super().__init__(
            "The record holds more than {0} files, the most that "
            "record['_files'] shows (RECORDS_FILES_INLINE_MAX_ENTRIES); "
            "iterate record.files instead.".format(count_limit)
        )


# Invenio-Files-REST ships no type information: its errors are ``Any``.
class FilesNotEnabledError(
    RecordsFilesError,
    InvalidOperationError,  # type: ignore[misc]  # Files-REST is untyped
):
    """Files are not enabled for this record."""

    code = 400

    def __init__(self, message: str | None = None) -> None:
        """Keep the message; also an Invenio-Files-REST error."""
        self.message = message or (self.__doc__ or "").splitlines()[0]
        InvalidOperationError.__init__(self, description=self.message)

    def __str__(self) -> str:
        """Return the message."""
        return self.message


class FilesNotEmptyError(RecordsFilesError):
    """Files cannot be disabled while the record has files; delete them first."""

    code = 409


class FilePendingError(RecordsFilesError):
    """The key names a pending file: commit or delete it first."""

    code = 409

    def __init__(self, key: str) -> None:
        """Remember the key."""
        self.key = key
        super().__init__(
            "The file {0!r} is pending (announced, not completed): commit it or "
            "delete it first.".format(key)
        )


class NoMediaFilesError(RecordsFilesError, LookupError):
    """The record has no media files."""

    code = 404


#
# Upload bodies and checksums (streams.uploads, storage)
#


class ContentLengthRequiredError(RecordsFilesError):
    """The upload has no Content-Length header."""

    code = 411


class BodyTooSmallError(RecordsFilesError, ValueError):
    """The upload's body is smaller than the smallest file accepted."""

    def __init__(self, size: int, minimum: int) -> None:
        """Remember the size received and the minimum."""
        self.size = size
        self.minimum = minimum
        super().__init__(
            "The body is {0} byte(s) long; files must have at least {1} "
            "(FILES_REST_MIN_FILE_SIZE).".format(size, minimum)
        )


class UnsupportedBodyError(RecordsFilesError):
    """The request body must be JSON (``Content-Type: application/json``)."""

    code = 415


class InvalidContentMD5Error(RecordsFilesError, ValueError):
    """The Content-MD5 value is not an MD5 digest."""


class ChecksumMismatchError(RecordsFilesError, ValueError):
    """The body does not match the checksum announced for it."""

    def __init__(self, expected: str, actual: str) -> None:
        """Keep both checksums for the caller."""
        self.expected = expected
        self.actual = actual
        super().__init__(
            "Content-MD5 does not match the body (announced {0}, received {1}).".format(
                expected, actual
            )
        )


class SizeMismatchError(RecordsFilesError, ValueError):
    """The bytes received do not have the size announced for them."""

    def __init__(self, expected: int, actual: int) -> None:
        """Keep both sizes."""
        self.expected = expected
        self.actual = actual
        super().__init__(
            "The file was announced with {0} bytes but {1} were received.".format(
                expected, actual
            )
        )


#
# Pages and ranges (rest.listing, files.queries, streams.downloads)
#


class InvalidCursorError(RecordsFilesError, ValueError):
    """The listing cursor is damaged or belongs to another listing."""


class InvalidPageSizeError(RecordsFilesError, ValueError):
    """The page size asked of a listing is out of range."""


class RangeNotSatisfiableError(RecordsFilesError, ValueError):
    """The requested byte range is not in the file."""

    code = 416

    def __init__(self, length: int, message: str | None = None) -> None:
        """Keep the file's length for the ``Content-Range`` header."""
        super().__init__(message)
        self.length = length


#
# Records and access (records, access, rest.base)
#


class RecordNotFoundError(RecordsFilesError, LookupError):
    """No record has this id."""

    code = 404

    def __init__(self, record_id: Any) -> None:
        """Remember the id looked for."""
        self.record_id = record_id
        super().__init__("No record with id {0}.".format(record_id))


class RecordGoneError(RecordsFilesError):
    """The record has been deleted."""

    code = 410


class RecordConflictError(RecordsFilesError):
    """The record was changed by another transaction; reload it and retry."""

    code = 409


class UnknownIdentifierError(RecordsFilesError, ValueError):
    """A persistent identifier names no record."""

    code = 404


class NoBucketError(RecordsFilesError):
    """The record has no bucket."""

    code = 409

    def __init__(self, record_id: Any) -> None:
        """Remember the record."""
        self.record_id = record_id
        super().__init__("Record {0} has no bucket.".format(record_id))


class PermissionDeniedError(RecordsFilesError):
    """You do not have permission to do this with the files of this record."""

    code = 403


class LoginRequiredError(PermissionDeniedError):
    """You must log in to do this with the files of this record."""

    code = 401


class InvalidAccessError(RecordsFilesError, ValueError):
    """The access settings of the record's files are not valid."""


#
# Transfers (transfers)
#


class InvalidTransferError(RecordsFilesError, ValueError):
    """A file announced for upload is described wrongly."""


class InvalidTransferURLError(InvalidTransferError):
    """A transfer URL is refused (see :mod:`~invenio_records_files_ext.transfers.addresses`)."""


class TransferStateError(RecordsFilesError):
    """The pending file is not in a state that allows this."""


class TransferFailedError(RecordsFilesError):
    """The bytes of a file could not be transferred."""

    code = 502


class TransientTransferError(TransferFailedError):
    """A transfer failed in a way that may pass: try again later.

    A connection reset or refused, a server answering 5xx, a source that
    stopped sending: the fetch task retries on these
    (:mod:`invenio_records_files_ext.tasks.transfers`).
    """


class RemoteURLRefusedError(RecordsFilesError):
    """The URL stored for a remote file is not one to send a browser to.

    It was stored before the URL rules of
    :mod:`~invenio_records_files_ext.transfers.addresses` or its host is no
    longer allowed: the download answers 409 instead of redirecting.
    """

    code = 409


#
# Archives and containers (archives)
#


class ContainerError(RecordsFilesError, ValueError):
    """The file cannot be read as a zip archive."""


class NotAContainerError(ContainerError):
    """The file is not a zip archive."""


class BrokenContainerError(ContainerError):
    """The zip archive is damaged."""


class UnsupportedMemberError(ContainerError):
    """This member of the zip archive cannot be extracted."""


class RemoteContainerError(ContainerError):
    """The file is a remote one: its bytes are elsewhere, not browsed here."""


class ZipBombError(ContainerError):
    """The zip archive expands far more than its size allows."""


class ContainerTooLargeError(RecordsFilesError, ValueError):
    """The zip archive is beyond what this service browses."""

    code = 413


class MemberNotFoundError(RecordsFilesError, KeyError):
    """The zip archive has no such member."""

    code = 404


class ArchiveSizeError(RecordsFilesError):
    """A file's bytes in storage differ in size from what the database says."""

    code = 500


class UnknownArchiveFormatError(RecordsFilesError, ValueError):
    """The files archive has no such format: ask for ``zip`` or ``bagit``."""


class InvalidBagError(RecordsFilesError, ValueError):
    """The bag is not a valid BagIt bag; nothing of it was attached."""

    def __init__(self, problems: list[str]) -> None:
        """Keep every problem found, each naming its file."""
        self.problems = problems
        shown = "; ".join(problems[:20])
        more = len(problems) - 20
        if more > 0:
            shown += "; and {0} more".format(more)
        super().__init__("Invalid bag, nothing attached: {0}.".format(shown))


#
# Imports, maintenance, processors and configuration (records.imports, maintenance, processors, config)
#


class FilesImportError(RecordsFilesError, ValueError):
    """The previous version's files cannot be imported into this record."""

    code = 400


class NotANewVersionError(FilesImportError):
    """The record is not a new version of another record: it has no files to import."""


class NotThePreviousVersionError(FilesImportError):
    """The record given is not the one this new version was made from."""


class FilesAlreadyImportedError(FilesImportError):
    """The new version already has files: delete them before importing."""


class LocalPathError(RecordsFilesError, ValueError):
    """A local path cannot be attached as given."""


class AttachStoppedError(RecordsFilesError):
    """Attaching local files stopped; the batches committed before stay."""

    code = 500

    def __init__(self, reason: str, attached: int, skipped: int, queued: int) -> None:
        """Keep why it stopped and how far it went."""
        self.reason = reason
        self.attached = attached
        self.skipped = skipped
        self.queued = queued
        super().__init__(
            "Stopped: {0} (after attaching {1} files and skipping {2}; {3} queued "
            "files were not stored). Run the command again to resume.".format(
                reason, attached, skipped, queued
            )
        )


class ProcessorLimitError(RecordsFilesError):
    """A metadata processor went past its time or read limit."""


class ConfigurationError(RecordsFilesError, ValueError):
    """A setting of this package has a value it cannot use."""

    code = 500
