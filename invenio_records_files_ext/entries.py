"""The record's ``_files`` list: ordered entries with a key index.

An entry is a plain dict stored in the record's JSON: the object version's
file fields (see :data:`FILE_FIELDS`) plus whatever per-file metadata the
user set. :class:`FileEntries` keeps the list in order and indexes it by
key so that every single-file change is O(1) in database work and cheap in
memory. The record's default preview (``_default_preview``) lives here too
because it must follow renames and deletions of the file it names.
"""

import copy
import json

from .errors import InvalidMetadataError

FILES_KEY = "_files"
DEFAULT_PREVIEW_KEY = "_default_preview"

FILE_FIELDS = (
    "bucket",
    "checksum",
    "file_id",
    "key",
    "mimetype",
    "size",
    "version_id",
)
"""Entry fields that describe the stored file; all others are metadata."""


def file_fields(obj, file=None):
    """Return the entry fields describing an object version's file.

    :param obj: an :class:`~invenio_files_rest.models.ObjectVersion` (or a
        row with the same attributes).
    :param file: its file instance, when ``obj.file`` is not loaded.
    """
    file = file if file is not None else obj.file
    return {
        "bucket": str(obj.bucket_id),
        "checksum": file.checksum,
        "file_id": str(file.id),
        "key": obj.key,
        "mimetype": obj.mimetype,
        "size": file.size,
        "version_id": str(obj.version_id),
    }


def check_metadata(name, value):
    """Refuse per-file metadata the record's JSON column cannot hold.

    Names are non-empty strings; values must be JSON (no ``NaN`` or
    infinities, only string keys) without NUL characters, which PostgreSQL's
    JSONB refuses: better a clear error now than a failed commit later.

    :raises invenio_records_files_ext.errors.InvalidMetadataError: a
        :class:`ValueError`.
    """
    if not isinstance(name, str) or not name:
        raise InvalidMetadataError(name, "a name must be a non-empty string")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidMetadataError(name, "the value is not JSON ({0})".format(error))
    if "\\u0000" in encoded or "\x00" in name:
        raise InvalidMetadataError(name, "NUL characters cannot be stored")
    if json.loads(encoded) != value:
        # Tuples, non-string keys...: stored, they would read back otherwise.
        raise InvalidMetadataError(name, "the value does not survive JSON as it is")
    return value


def user_metadata(entry):
    """Return the user's per-file metadata of an entry (no file fields)."""
    return {k: v for k, v in entry.items() if k not in FILE_FIELDS}


class FileEntries:
    """Ordered ``_files`` entries with an index by key."""

    def __init__(self, entries=None, default_preview=None):
        """Wrap a list of entry dicts (the list is used, not copied)."""
        self.list = entries if entries is not None else []
        self.default_preview = default_preview
        self._index = {entry["key"]: entry for entry in self.list}

    @classmethod
    def from_data(cls, data):
        """Build from a record's JSON, copying it so the source is untouched."""
        data = data or {}
        return cls(
            copy.deepcopy(data.get(FILES_KEY) or []),
            data.get(DEFAULT_PREVIEW_KEY),
        )

    def write_into(self, data):
        """Store the entries and the default preview into a record dict."""
        data[FILES_KEY] = self.list
        if self.default_preview is None:
            data.pop(DEFAULT_PREVIEW_KEY, None)
        else:
            data[DEFAULT_PREVIEW_KEY] = self.default_preview

    def merged_into(self, json):
        """Return a copy of a stored JSON document carrying these entries."""
        json = dict(json or {})
        json[FILES_KEY] = copy.deepcopy(self.list)
        if self.default_preview is None:
            json.pop(DEFAULT_PREVIEW_KEY, None)
        else:
            json[DEFAULT_PREVIEW_KEY] = self.default_preview
        return json

    def __len__(self):
        """Return the number of entries."""
        return len(self.list)

    def __contains__(self, key):
        """Tell whether an entry has this key."""
        return key in self._index

    def __iter__(self):
        """Iterate over the entries in order."""
        return iter(self.list)

    def keys(self):
        """Return the keys in order."""
        return [entry["key"] for entry in self.list]

    def get(self, key):
        """Return the entry for ``key`` or ``None``."""
        return self._index.get(key)

    def position(self, key):
        """Return the position of ``key`` in the order."""
        entry = self._index[key]
        for position, candidate in enumerate(self.list):
            if candidate is entry:
                return position
        raise KeyError(key)  # pragma: no cover - index and list disagree

    def append(self, entry):
        """Add an entry at the end of the order."""
        self.list.append(entry)
        self._index[entry["key"]] = entry

    def remove(self, key):
        """Remove ``key``; return ``(position, entry, default_preview)``.

        The default preview is cleared when it named the removed key; the
        returned value is the one before removal, for undoing.
        """
        position = self.position(key)
        entry = self.list.pop(position)
        del self._index[key]
        previous_preview = self.default_preview
        if self.default_preview == key:
            self.default_preview = None
        return position, entry, previous_preview

    def rename(self, old_key, new_key):
        """Give the entry of ``old_key`` the key ``new_key`` in place."""
        entry = self._index.pop(old_key)
        entry["key"] = new_key
        self._index[new_key] = entry
        if self.default_preview == old_key:
            self.default_preview = new_key
        return entry

    def reorder(self, keys):
        """Put ``keys`` first, in this order; the others keep their order."""
        chosen = [self._index[key] for key in keys]
        chosen_ids = {id(entry) for entry in chosen}
        rest = [entry for entry in self.list if id(entry) not in chosen_ids]
        self.list[:] = chosen + rest

    def set_order(self, entries):
        """Replace the entries (and their order), keeping the list object."""
        self.list[:] = entries
        self._index = {entry["key"]: entry for entry in self.list}

    def summary(self):
        """Return counts, bytes and mimetypes, computed from the entries only."""
        mimetypes = sorted(
            {entry.get("mimetype") for entry in self.list if entry.get("mimetype")}
        )
        return {
            "count": len(self.list),
            "total_bytes": sum(entry.get("size") or 0 for entry in self.list),
            "mimetypes": mimetypes,
            "default_preview": self.default_preview,
        }
