"""A listing page's JSON, built as dicts from the page's rows.

The body of ``GET <record>/files`` is Invenio-Files-REST's listing
(``contents``: one object version each, the bucket's fields and links)
plus InvenioRDM's (``enabled``, ``entries``). Its shape is the one the
schemas of :mod:`invenio_records_files_ext.serializer` and
:mod:`~invenio_records_files_ext.rest.rdm` write for one object; here it is
written from the rows of :func:`~invenio_records_files_ext.files.queries.rows_page`
with no schema pass and no ORM object per file, and every link comes from
a template built once per request
(:mod:`~invenio_records_files_ext.rest.url_templates`). ``tests/test_listing_shape.py``
compares both, links included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from invenio_files_rest.utils import guess_mimetype

from ..models import REMOTE_STORAGE_CLASS
from ..serializer import object_urls
from .rdm import EntryLinks, stored_entry


def _iso(value: Any) -> Optional[str]:
    # What marshmallow's DateTime field writes.
    return value.isoformat() if value is not None else None


def _aware(value: Any) -> bool:
    return value is None or value.tzinfo is not None


def _object_links(url: str, version_id: str, current: bool) -> dict[str, str]:
    version = url + "?versionId=" + version_id
    links = {"self": url if current else version, "version": version}
    if current:
        links["uploads"] = url + "?uploads"
    return links


class PageLinks:
    """The links of a page's files, from templates built once per request.

    Each key is quoted once for all its links when the routes quote alike.
    """

    def __init__(
        self,
        bucket_id: Any,
        endpoint: Optional[str],
        pid_value: Any,
        entry_links: EntryLinks,
    ) -> None:
        """Build the templates of the files' routes."""
        self.object = object_urls(bucket_id, endpoint, pid_value)
        if self.object is None:
            from ..serializer import files_url

            # The route cannot be built: fail as the schema's links would.
            files_url("object_api", bucket_id, endpoint, pid_value, key="-")
        self.entry = [
            (
                name,
                template,
                self.object is not None and template.quotes_like(self.object),
            )
            for name, template in zip(
                ("self", "content", "commit"), entry_links.templates(*ENTRY_VIEWS)
            )
            if template is not None
        ]

    def urls(self, key: str) -> tuple[str, dict[str, str]]:
        """Return the URL of ``key`` on the object route, and its entry's links."""
        assert self.object is not None
        quoted = self.object.quote(key) if self.object.quote else None
        url = (
            self.object.with_quoted(quoted) if quoted is not None else self.object(key)
        )
        links = {}
        for name, template, alike in self.entry:
            if alike and quoted is not None:
                links[name] = template.with_quoted(quoted)
            else:
                links[name] = template(key)
        return url, links


ENTRY_VIEWS = ("object_api", "content_api", "commit_api")
"""The routes an InvenioRDM entry links to (``self``, ``content``, ``commit``)."""


def content_item(
    key: str,
    entry: dict[str, Any],
    tags: dict[str, str],
    url: str,
    times: tuple[Optional[str], Optional[str]],
    is_head: bool,
    stored_mimetype: Optional[str],
) -> dict[str, Any]:
    """Return one object version of ``contents`` (Files-REST's shape).

    :param entry: its entry.
    :param url: the URL of its file.
    :param times: its creation and update times, as written.
    :param stored_mimetype: the MIME type its object version stores, if any.
    """
    size = entry["size"]
    return {
        "created": times[0],
        "updated": times[1],
        # Every listed version has its file: it is no delete marker.
        "links": _object_links(url, entry["version_id"], is_head),
        "key": key,
        "version_id": entry["version_id"],
        "is_head": is_head,
        "mimetype": stored_mimetype or guess_mimetype(key),
        "size": int(size) if size is not None else None,
        "checksum": entry["checksum"],
        "checksums": entry["checksums"],
        "delete_marker": False,
        "tags": dict(tags),
    }


def bucket_fields(bucket: Any, url: str) -> dict[str, Any]:
    """Return the bucket's fields around ``contents`` (Files-REST's shape)."""
    return {
        "created": _iso(bucket.created),
        "updated": _iso(bucket.updated),
        "links": {
            "self": url,
            "versions": url + "?versions",
            "uploads": url + "?uploads",
        },
        "id": str(bucket.id),
        "size": bucket.size,
        "quota_size": bucket.quota_size,
        "max_file_size": bucket.max_file_size,
        "locked": bool(bucket.locked),
    }


@dataclass
class ListingBody:
    """A page's two listings: Files-REST's body, InvenioRDM's entries."""

    body: dict[str, Any]
    """``contents`` and the bucket's fields and links."""

    entries: list[dict[str, Any]]
    """InvenioRDM's entries of the page's completed files."""


def listing_body(
    bucket: Any,
    bucket_url: str,
    rows: Sequence[Any],
    entries: Sequence[dict[str, Any]],
    tags: dict[Any, dict[str, str]],
    page_links: dict[str, str],
    link_context: dict[str, Any],
) -> ListingBody:
    """Return a listing page's JSON, both shapes, from its rows.

    :param link_context: ``endpoint`` and ``pid_value`` of the record's
        routes (empty on Invenio-Files-REST's routes).
    """
    endpoint, pid_value = link_context.get("endpoint"), link_context.get("pid_value")
    links = PageLinks(bucket.id, endpoint, pid_value, EntryLinks(endpoint, pid_value))
    empty: dict[str, str] = {}
    contents, completed = [], []
    for row, entry in zip(rows, entries):
        key, created, updated = row.key, row.created, row.updated
        url, entry_links = links.urls(key)
        times = (_iso(created), _iso(updated))
        contents.append(
            content_item(
                key,
                entry,
                tags.get(row.version_id, empty),
                url,
                times,
                bool(row.is_head),
                row.stored_mimetype,
            )
        )
        # InvenioRDM's entries give naive times as UTC: the same text when
        # the database gives them with their zone (one isoformat per time).
        completed.append(
            stored_entry(
                key,
                times[0] if _aware(created) else created,
                times[1] if _aware(updated) else updated,
                entry,
                row.storage_class == REMOTE_STORAGE_CLASS,
                entry_links,
            )
        )
    body: dict[str, Any] = {"contents": contents}
    body.update(bucket_fields(bucket, bucket_url))
    body["links"].update(page_links)
    return ListingBody(body, completed)


__all__ = (
    "ENTRY_VIEWS",
    "ListingBody",
    "PageLinks",
    "bucket_fields",
    "content_item",
    "listing_body",
)
