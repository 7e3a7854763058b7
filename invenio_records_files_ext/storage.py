"""Writing the bytes of new files, and checking them against the client.

Bytes are written through Invenio-Files-REST's storage factory, so any
backend it supports (local disk, invenio-s3, ...) works. Every write is
entered in the transaction ledger (:mod:`.transaction`): if the transaction
does not commit, the bytes are deleted again.
"""

import base64
import binascii
import hashlib

from invenio_files_rest.models import FileInstance

from . import transaction
from .errors import ChecksumMismatchError, RecordsFilesError


class InvalidContentMD5Error(RecordsFilesError, ValueError):
    """The Content-MD5 value is not an MD5 digest."""


def parse_content_md5(value):
    """Return the hex digest announced by a Content-MD5 value.

    RFC 1864 asks for the base64 of the 16-byte digest; a 32-character hex
    digest is accepted too, because many clients send that.
    """
    value = (value or "").strip()
    if len(value) == 32:
        try:
            int(value, 16)
            return value.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise InvalidContentMD5Error(
            "Content-MD5 must be the base64 (or hex) MD5 digest of the body."
        )
    return raw.hex()


def _md5_of(storage):
    digest = hashlib.md5()
    with storage.open("rb") as fp:
        for chunk in iter(lambda: fp.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_md5(storage, checksum, expected):
    algorithm, _, value = (checksum or "").partition(":")
    actual = value if algorithm == "md5" else _md5_of(storage)
    if actual != expected:
        raise ChecksumMismatchError(expected, actual)


def discard(file_id):
    """Delete bytes written in this transaction for ``file_id``, if any."""
    storage = transaction.unstage(file_id)
    if storage is not None:
        transaction.delete_bytes(storage)


def write_bytes(
    fileinstance,
    location_uri,
    storage_class,
    stream,
    size=None,
    size_limit=None,
    content_md5=None,
):
    """Write ``stream`` as the bytes of ``fileinstance``.

    :param fileinstance: a :class:`~invenio_files_rest.models.FileInstance`
        with an id; it is not modified, so a transient one may be used.
    :param size: the announced size; a body of another size is refused.
    :param size_limit: an ``int`` or
        :class:`~invenio_files_rest.limiters.FileSizeLimit`; writing stops
        with :class:`~invenio_files_rest.errors.FileSizeError` past it.
    :param content_md5: the client's Content-MD5; a mismatch raises
        :class:`~invenio_records_files_ext.errors.ChecksumMismatchError`.
    :returns: ``(storage, uri, size, checksum)``.
    """
    expected_md5 = parse_content_md5(content_md5) if content_md5 else None
    storage = fileinstance.storage(
        default_location=location_uri, default_storage_class=storage_class
    )
    transaction.stage(fileinstance.id, storage)
    try:
        uri, written, checksum = storage.save(stream, size=size, size_limit=size_limit)
        if expected_md5 is not None:
            _verify_md5(storage, checksum, expected_md5)
    except BaseException:
        discard(fileinstance.id)
        raise
    return storage, uri, written, checksum


def stage_file(bucket, stream, size=None, size_limit=None, content_md5=None):
    """Write a stream into a new file instance added to the session.

    The bytes go to the bucket's default location and storage class. The
    caller attaches the returned file instance to an object version.
    """
    # Load the location before the file instance joins the session, so that
    # the lazy load's autoflush cannot write a half-made row.
    location_uri = bucket.location.uri
    storage_class = bucket.default_storage_class
    fileinstance = FileInstance.create()
    _, uri, written, checksum = write_bytes(
        fileinstance,
        location_uri,
        storage_class,
        stream,
        size=size,
        size_limit=size_limit,
        content_md5=content_md5,
    )
    fileinstance.set_uri(uri, written, checksum, storage_class=storage_class)
    return fileinstance
