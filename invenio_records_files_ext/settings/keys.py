"""The rules file keys are checked by: :class:`KeyPolicy`.

The checks themselves live in :mod:`invenio_records_files_ext.db.keys`
(which exports this class too); the policy is part of the settings tree
(``settings.keys``), read from the ``RECORDS_FILES_KEY_*`` keys and
Invenio-Files-REST's ``FILES_REST_OBJECT_KEY_MAX_LEN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, cast

from .. import config as defaults
from .reading import Reader

NormalForm = Literal["NFC", "NFD", "NFKC", "NFKD"]
"""The Unicode normal forms a key can be stored in."""


@dataclass(frozen=True)
class KeyPolicy:
    """The key rules in force (read from the application's configuration)."""

    max_bytes: int = defaults.RECORDS_FILES_KEY_MAX_LENGTH
    """Longest key, in bytes of UTF-8 (``RECORDS_FILES_KEY_MAX_LENGTH``)."""
    max_chars: Optional[int] = None
    """Invenio-Files-REST's own limit, in characters, if any."""
    normalization: Optional[NormalForm] = cast(
        NormalForm, defaults.RECORDS_FILES_KEY_NORMALIZATION
    )
    allow_backslash: bool = defaults.RECORDS_FILES_KEY_ALLOW_BACKSLASH
    allowed_format_characters: frozenset[str] = frozenset(
        defaults.RECORDS_FILES_KEY_ALLOWED_FORMAT_CHARACTERS
    )
    allow_blank: bool = defaults.RECORDS_FILES_KEY_ALLOW_BLANK

    @classmethod
    def read(cls, reader: Reader) -> KeyPolicy:
        """Read the policy with ``reader``."""
        return cls(
            max_bytes=reader.integer("RECORDS_FILES_KEY_MAX_LENGTH"),
            # Invenio-Files-REST applies its own limit (in characters) when
            # the object version is created; checking it here too means the
            # caller gets our precise error before any byte is stored.
            max_chars=reader.foreign("FILES_REST_OBJECT_KEY_MAX_LEN"),
            normalization=cast(
                Optional[NormalForm],
                reader.raw("RECORDS_FILES_KEY_NORMALIZATION") or None,
            ),
            allow_backslash=reader.flag("RECORDS_FILES_KEY_ALLOW_BACKSLASH"),
            allowed_format_characters=frozenset(
                reader.raw("RECORDS_FILES_KEY_ALLOWED_FORMAT_CHARACTERS") or ()
            ),
            allow_blank=reader.flag("RECORDS_FILES_KEY_ALLOW_BLANK"),
        )


__all__ = ("KeyPolicy", "NormalForm")
