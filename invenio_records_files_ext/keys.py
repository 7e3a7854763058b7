"""The one place where file keys are checked.

The Python API and the REST routes both call :func:`validate_key` before
anything is written, so a key is refused the same way whichever door it
comes through.
"""

import unicodedata

from flask import current_app, has_app_context

from .errors import InvalidFileKeyError

DEFAULT_MAX_KEY_BYTES = 1024


def _max_key_bytes():
    if has_app_context():
        return current_app.config.get(
            "RECORDS_FILES_KEY_MAX_LENGTH", DEFAULT_MAX_KEY_BYTES
        )
    return DEFAULT_MAX_KEY_BYTES


def _files_rest_max_chars():
    # Invenio-Files-REST applies its own limit (in characters) when the
    # object version is created; checking it here too means the caller gets
    # our precise error before any byte is stored.
    if has_app_context():
        return current_app.config.get("FILES_REST_OBJECT_KEY_MAX_LEN")
    return None


def validate_key(key):
    """Return ``key`` if it is an acceptable file key, else raise.

    Refused: non-strings, the empty key, a leading ``/``, empty, ``.`` or
    ``..`` path segments, control characters (NUL included), and keys longer
    than ``RECORDS_FILES_KEY_MAX_LENGTH`` bytes of UTF-8 (or than
    ``FILES_REST_OBJECT_KEY_MAX_LEN`` characters). Unicode, spaces and
    nested keys such as ``dir/file.txt`` are accepted.

    :raises invenio_records_files_ext.errors.InvalidFileKeyError: a
        :class:`ValueError` naming the reason.
    """
    if not isinstance(key, str):
        raise InvalidFileKeyError(key, "a key must be a string")
    if not key:
        raise InvalidFileKeyError(key, "the key is empty")
    for char in key:
        if unicodedata.category(char) == "Cc":
            raise InvalidFileKeyError(
                key, "control character U+{0:04X} is not allowed".format(ord(char))
            )
    if key.startswith("/"):
        raise InvalidFileKeyError(key, "a key must not start with '/'")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidFileKeyError(
                key, "empty, '.' and '..' path segments are not allowed"
            )
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidFileKeyError(key, "the key is not valid Unicode text")
    max_bytes = _max_key_bytes()
    if size > max_bytes:
        raise InvalidFileKeyError(
            key, "the key is {0} bytes long, the limit is {1}".format(size, max_bytes)
        )
    max_chars = _files_rest_max_chars()
    if max_chars and len(key) > max_chars:
        raise InvalidFileKeyError(
            key,
            "the key is {0} characters long, FILES_REST_OBJECT_KEY_MAX_LEN "
            "allows {1}".format(len(key), max_chars),
        )
    return key
