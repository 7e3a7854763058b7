"""``FileObject``: one file of a record, as ``record.files[key]`` returns it."""

from __future__ import annotations

from typing import Any, Optional, Protocol

from invenio_files_rest.models import ObjectVersion

from ..errors import MetadataKeyError
from ..storage.checksums import fill_entries
from .entries import file_fields


class MetadataWriter(Protocol):
    """What a file object needs from its files view to change its metadata."""

    def _set_metadata(self, fileobj: Any, name: str, value: Any) -> dict[str, Any]:
        """Set one value; return the file's new entry."""

    def _delete_metadata(self, fileobj: Any, name: str) -> dict[str, Any]:
        """Remove one value; return the file's new entry."""


class FileObject:
    """A file of a record: its object version plus its entry.

    Attribute access is proxied to the
    :class:`~invenio_files_rest.models.ObjectVersion` (``obj``); item access
    reads and writes the per-file metadata (``data``). Every attribute of
    the object version is a reserved key: reading it gives the object
    version's value, writing it raises :class:`KeyError`.
    """

    def __init__(self, obj: ObjectVersion, data: dict[str, Any]) -> None:
        """Bind an object version to its entry."""
        self.obj = obj
        self.data = data
        self._files: Optional[MetadataWriter] = None

    def __getattr__(self, name: str) -> Any:
        """Proxy to the object version."""
        if name in ("obj", "data", "_files"):
            raise AttributeError(name)
        return getattr(self.obj, name)

    def __getitem__(self, key: str) -> Any:
        """Return a metadata value (or the object version's attribute)."""
        if hasattr(self.obj, key):
            return getattr(self.obj, key)
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        """Set a metadata value; object version attributes are reserved.

        :raises KeyError: for a reserved key.
        :raises invenio_records_files_ext.errors.InvalidMetadataError: for a
            value that cannot be stored.
        """
        if hasattr(self.obj, key):
            raise MetadataKeyError(key, "the name belongs to the object version")
        if self._files is None:
            self.data[key] = value
        else:
            self.data = self._files._set_metadata(self, key, value)

    def __delitem__(self, key: str) -> None:
        """Remove a metadata value; object version attributes are reserved."""
        if hasattr(self.obj, key) or key not in self.data:
            raise MetadataKeyError(key)
        if self._files is None:
            del self.data[key]
        else:
            self.data = self._files._delete_metadata(self, key)

    def __contains__(self, key: str) -> bool:
        """Tell whether a metadata key is set."""
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        """Return a metadata value, or ``default``.

        :param key: metadata key which holds the value.
        :returns: metadata value of the specified key or default.
        """
        try:
            return self[key]
        except KeyError:
            return default

    def get_version(self, version_id: Any = None) -> Optional[ObjectVersion]:
        """Return one version of this file (the head by default).

        :param version_id: version id of the object.
        :returns: :class:`~invenio_files_rest.models.ObjectVersion` or
            ``None``.
        """
        return ObjectVersion.get(
            bucket=self.obj.bucket_id, key=self.obj.key, version_id=version_id
        )

    def get_versions(self) -> list[ObjectVersion]:
        """Return every version of this file, newest first."""
        return list(ObjectVersion.get_versions(self.obj.bucket_id, self.obj.key).all())

    def dumps(self) -> dict[str, Any]:
        """Update the entry from the object version and return it.

        The dump holds ``bucket``, ``checksum``, ``checksums``, ``file_id``,
        ``key``, ``mimetype``, ``size`` and ``version_id`` plus the user's
        metadata.
        """
        fields: dict[str, Any] = dict(file_fields(self.obj))
        if self.data.get("file_id") == fields["file_id"] and self.data.get("checksums"):
            # Read with the entry already (the file's rows beside its MD5).
            fields["checksums"] = {**fields["checksums"], **self.data["checksums"]}
        else:
            fill_entries([fields])
        self.data.update(fields)
        return self.data
