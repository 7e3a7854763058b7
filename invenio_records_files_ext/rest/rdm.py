"""File entries in InvenioRDM's JSON shape, for the three-step upload routes.

InvenioRDM answers its files routes with entries such as::

    {"key": "data.csv", "status": "pending", "metadata": {...},
     "checksum": null, "size": 12, "mimetype": "text/csv",
     "transfer": {"type": "L"},
     "links": {"self": ".../files/data.csv",
               "content": ".../files/data.csv/content",
               "commit": ".../files/data.csv/commit"}}

and lists them as ``{"enabled": true, "entries": [...], "links": {...}}``.
This module builds the same shapes from completed files
(:class:`~invenio_records_files_ext.files.fileobject.FileObject`) and
pending ones (:class:`~invenio_records_files_ext.files.pending_rows.PendingFile`).
The source URL of a fetch or remote transfer is never shown (it may carry
credentials, and remote downloads go through ``/content`` for statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from werkzeug.routing import BuildError

from ..files.entries import user_metadata
from ..files.pending_rows import PendingFile
from ..models import REMOTE_STORAGE_CLASS
from ..serializer import BLUEPRINT_NAME
from ..transfers import FAILED, LOCAL, REMOTE, provider
from .url_templates import KeyURL, key_url
from .urls import api_url

COMPLETED_STATUS = "completed"
PENDING_STATUS = "pending"
FAILED_STATUS = "failed"


@dataclass(frozen=True)
class EntryLinks:
    """Builds the links of a record's file entries (record routes only)."""

    endpoint: Optional[str]
    pid_value: Optional[str]

    def url(self, view: str, **values: Any) -> Optional[str]:
        """Return the URL of one of the files views, or ``None`` without one."""
        if not self.endpoint or self.pid_value is None:
            return None
        endpoint = "{0}.{1}_{2}".format(BLUEPRINT_NAME, self.endpoint, view)
        if list(values) == ["key"]:
            # One template per route and request: most links are these.
            urls = key_url(endpoint, pid_value=self.pid_value)
            return urls(values["key"]) if urls is not None else None
        try:
            return api_url(endpoint, pid_value=self.pid_value, **values)
        except BuildError:
            return None

    def templates(self, *views: str) -> list[Optional[KeyURL]]:
        """Return the URL templates of views taking a key (``None``: no such link)."""
        if not self.endpoint or self.pid_value is None:
            return [None for _ in views]
        return [
            key_url(
                "{0}.{1}_{2}".format(BLUEPRINT_NAME, self.endpoint, view),
                pid_value=self.pid_value,
            )
            for view in views
        ]

    def files(self) -> dict[str, str]:
        """Links of the files list."""
        url = self.url("bucket_api")
        return {"self": url} if url else {}

    def entry(self, key: str, *names: str) -> dict[str, str]:
        """Links ``self`` plus ``names`` (``content``, ``commit``) of one file."""
        links = {}
        for name, view in (("self", "object_api"), ("content", "content_api")):
            if name == "self" or name in names:
                url = self.url(view, key=key)
                if url:
                    links[name] = url
        if "commit" in names:
            url = self.url("commit_api", key=key)
            if url:
                links["commit"] = url
        return links


def _iso(value: object) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    return str(value)


def completed_entry(fileobj: Any, links: EntryLinks) -> dict[str, Any]:
    """Return the entry of a completed file."""
    obj = fileobj.obj
    file = obj.file
    remote = file is not None and file.storage_class == REMOTE_STORAGE_CLASS
    entry_links = links.entry(obj.key, "content", "commit")
    return stored_entry(
        obj.key, obj.created, obj.updated, fileobj.data, remote, entry_links
    )


def stored_entry(
    key: str,
    created: Any,
    updated: Any,
    data: dict[str, Any],
    remote: bool,
    links: dict[str, str],
) -> dict[str, Any]:
    """Return the entry of a completed file from its values.

    :param data: the file's entry (file fields and metadata).
    :param remote: whether it is a remote file.
    :param links: its links (:meth:`EntryLinks.entry` with ``content`` and
        ``commit``).
    """
    return {
        "key": key,
        "created": _iso(created),
        "updated": _iso(updated),
        "status": COMPLETED_STATUS,
        "metadata": user_metadata(data),
        "checksum": data.get("checksum"),
        "checksums": data.get("checksums"),
        "size": data.get("size"),
        "mimetype": data.get("mimetype"),
        "storage_class": REMOTE if remote else LOCAL,
        "file_id": data.get("file_id"),
        "version_id": data.get("version_id"),
        "bucket_id": data.get("bucket"),
        "transfer": {"type": REMOTE if remote else LOCAL},
        "links": links,
    }


def pending_status(found: PendingFile) -> str:
    """Return ``pending`` or ``failed``."""
    return FAILED_STATUS if found.state == FAILED else PENDING_STATUS


def pending_entry(
    found: PendingFile, links: EntryLinks, parts: Optional[list[Any]] = None
) -> dict[str, Any]:
    """Return the entry of a pending file.

    :param parts: the part links of a multipart upload.
    """
    transfer: dict[str, Any] = {"type": found.type, "state": found.state}
    if found.error:
        transfer["error"] = found.error
    kind = provider(found.type)
    transfer.update(kind.status(found))
    entry_links: dict[str, Any] = links.entry(found.key, *kind.link_names)
    if parts:
        entry_links["parts"] = parts
    return {
        "key": found.key,
        "created": _iso(found.created),
        "updated": _iso(found.updated),
        "status": pending_status(found),
        "metadata": dict(found.metadata),
        "checksum": found.checksum,
        "size": found.size,
        "mimetype": found.mimetype,
        "storage_class": found.type,
        "transfer": transfer,
        "links": entry_links,
    }


def files_list(
    entries: list[dict[str, Any]],
    links: EntryLinks,
    default_preview: Optional[str] = None,
) -> dict[str, Any]:
    """Return the files list shape (``enabled``, ``entries``, ``links``)."""
    return {
        "enabled": True,
        "links": links.files(),
        "entries": entries,
        "default_preview": default_preview,
    }


__all__ = (
    "COMPLETED_STATUS",
    "EntryLinks",
    "FAILED_STATUS",
    "PENDING_STATUS",
    "completed_entry",
    "files_list",
    "pending_entry",
    "pending_status",
    "stored_entry",
)
