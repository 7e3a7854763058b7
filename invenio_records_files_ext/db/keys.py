"""The one place where file keys are checked and normalised.

The Python API and the REST routes both call :func:`validate_key` before
anything is written, so a key is refused the same way whichever door it
comes through. A key is refused when it could be mistaken for another one
or for a path it does not name:

* empty keys, a leading ``/``, and empty, ``.`` or ``..`` segments;
* keys that *become* such a path under Unicode compatibility normalisation
  (NFKC), such as ``．．／x`` or ``‥/x``: other systems (file systems,
  archive tools, browsers saving a download) apply it;
* control characters, line and paragraph separators (U+2028, U+2029),
  invisible format characters such as bidirectional overrides (U+202E),
  the zero-width space (U+200B) and the byte order mark (U+FEFF);
* backslashes, which Windows tools read as path separators;
* keys, or segments, made only of white space (or of other characters
  that display as nothing);
* keys over the length limits.

Accepted keys are normalised to Unicode NFC, so that the composed and
decomposed spellings of ``café.txt`` are one key. Each rule sites may
want to relax has a ``RECORDS_FILES_KEY_*`` setting (see
:mod:`invenio_records_files_ext.config`).
"""

from __future__ import annotations

import unicodedata
from typing import Any, Optional

from ..errors import InvalidFileKeyError
from ..settings.current import current_or_defaults
from ..settings.keys import KeyPolicy, NormalForm

_SEPARATOR_CATEGORIES = {"Zl": "line separator", "Zp": "paragraph separator"}

_BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
"""Letters that display as nothing (Hangul fillers, the blank Braille
pattern): a key made of them is as invisible as one made of spaces."""


def _is_blank(text: str) -> bool:
    """Whether ``text`` displays as nothing but white space."""
    return all(
        char.isspace() or char in _BLANK_LETTERS or unicodedata.category(char) == "Cf"
        for char in text
    )


def current_policy() -> KeyPolicy:
    """Return the policy of the current application (defaults without one)."""
    return current_or_defaults().keys


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    code = "U+{0:04X}".format(ord(char))
    return "{0} ({1})".format(code, name) if name else code


def normalize_key(key: str, policy: Optional[KeyPolicy] = None) -> str:
    """Return ``key`` in the normal form keys are stored in (NFC by default)."""
    policy = policy or current_policy()
    if policy.normalization and isinstance(key, str):
        return unicodedata.normalize(policy.normalization, key)
    return key


def _check_characters(key: str, policy: KeyPolicy) -> None:
    for char in key:
        category = unicodedata.category(char)
        if category == "Cc":
            raise InvalidFileKeyError(
                key, "control character {0} is not allowed".format(_describe(char))
            )
        if category in _SEPARATOR_CATEGORIES:
            raise InvalidFileKeyError(
                key,
                "{0} {1} is not allowed".format(
                    _SEPARATOR_CATEGORIES[category], _describe(char)
                ),
            )
        if category == "Cf" and char not in policy.allowed_format_characters:
            raise InvalidFileKeyError(
                key,
                "invisible format character {0} is not allowed".format(_describe(char)),
            )
        if char == "\\" and not policy.allow_backslash:
            raise InvalidFileKeyError(key, "backslashes are not allowed")


def _check_segments(key: str, policy: KeyPolicy) -> None:
    if key.startswith("/"):
        raise InvalidFileKeyError(key, "a key must not start with '/'")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidFileKeyError(
                key, "empty, '.' and '..' path segments are not allowed"
            )
        if not policy.allow_blank and _is_blank(segment):
            raise InvalidFileKeyError(
                key,
                "keys and path segments made only of white space (or of "
                "invisible characters) are not allowed",
            )
        # What other systems will make of the segment: it must not turn
        # into a separator or into a '.' or '..' segment there.
        compatible = unicodedata.normalize("NFKC", segment)
        separators = "/" if policy.allow_backslash else "/\\"
        if compatible in (".", "..") or any(sep in compatible for sep in separators):
            raise InvalidFileKeyError(
                key,
                "{0!r} reads as {1!r} once normalised (NFKC); path separators "
                "and '.' or '..' segments are not allowed".format(segment, compatible),
            )


def _check_length(key: str, policy: KeyPolicy) -> None:
    size = len(key.encode("utf-8"))
    if size > policy.max_bytes:
        raise InvalidFileKeyError(
            key,
            "the key is {0} bytes long, the limit is {1}".format(
                size, policy.max_bytes
            ),
        )
    if policy.max_chars and len(key) > policy.max_chars:
        raise InvalidFileKeyError(
            key,
            "the key is {0} characters long, FILES_REST_OBJECT_KEY_MAX_LEN "
            "allows {1}".format(len(key), policy.max_chars),
        )


def validate_key(key: Any) -> str:
    """Return ``key`` normalised if it is an acceptable file key, else raise.

    Refused: non-strings, the empty key, a leading ``/``, empty, ``.`` or
    ``..`` path segments (also once normalised with NFKC), control
    characters (NUL included), line and paragraph separators, invisible
    format characters (but those in
    ``RECORDS_FILES_KEY_ALLOWED_FORMAT_CHARACTERS``), backslashes (unless
    ``RECORDS_FILES_KEY_ALLOW_BACKSLASH``), keys or segments made only of
    white space (unless ``RECORDS_FILES_KEY_ALLOW_BLANK``), text that is
    not valid Unicode, and keys longer than ``RECORDS_FILES_KEY_MAX_LENGTH``
    bytes of UTF-8 (or than ``FILES_REST_OBJECT_KEY_MAX_LEN`` characters).
    Unicode, inner spaces and nested keys such as ``dir/file.txt`` are
    accepted.

    :returns: the key in ``RECORDS_FILES_KEY_NORMALIZATION`` form (NFC by
        default): store and look up files under this value.
    :raises invenio_records_files_ext.errors.InvalidFileKeyError: a
        :class:`ValueError` naming the reason.
    """
    if not isinstance(key, str):
        raise InvalidFileKeyError(key, "a key must be a string")
    if not key:
        raise InvalidFileKeyError(key, "the key is empty")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidFileKeyError(key, "the key is not valid Unicode text") from None
    policy = current_policy()
    normalized = normalize_key(key, policy)
    _check_characters(normalized, policy)
    _check_segments(normalized, policy)
    _check_length(normalized, policy)
    return normalized


def check_url_path(path_info: Optional[str]) -> None:
    """Refuse a request path whose bytes are not UTF-8.

    WSGI servers hand the path over as bytes in a Latin-1 string; Werkzeug
    then replaces invalid UTF-8 with U+FFFD, so that different keys would
    silently become the same one.

    :raises invenio_records_files_ext.errors.InvalidFileKeyError: if the
        path is not valid UTF-8.
    """
    try:
        (path_info or "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise InvalidFileKeyError(
            None, "the URL is not valid UTF-8 (percent-encode the key's UTF-8 bytes)"
        ) from None


def spellings(key: str) -> list[str]:
    """Return the spellings under which a file ``key`` may be stored.

    The normalised key first; then ``key`` as given, when it differs, for
    files stored before keys were normalised.
    """
    normalised = normalize_key(key)
    return [normalised] if normalised == key else [normalised, key]


__all__ = (
    "KeyPolicy",
    "NormalForm",
    "current_policy",
    "check_url_path",
    "normalize_key",
    "spellings",
    "validate_key",
)
