"""The three-step upload routes, in InvenioRDM's shape.

Under a record's files route (``<item route>/files``):

* ``POST /files`` with a JSON list ``[{"key": ..., ...}]`` announces files
  (:meth:`~invenio_records_files_ext.files.transfers.Transfers.init`);
* ``PUT /files/<key>/content`` uploads the bytes of a pending local file;
* ``PUT /files/<key>/content/<part>`` uploads one part of a multipart upload
  that goes through the application;
* ``POST /files/<key>/commit`` completes a pending file;
* ``GET /files/<key>/content`` downloads a completed file (served by
  :class:`~invenio_records_files_ext.rest.objects.RecordObjectResource`,
  like ``GET /files/<key>``).

They reserve the key suffixes ``/content``, ``/content/<number>`` and
``/commit`` on the record's routes. The views only parse the request and
shape the answer; the work is the library's.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Any

from flask import jsonify, request
from invenio_db import db
from invenio_rest import ContentNegotiatedMethodView

from ..access import decisions as access
from ..db.keys import check_url_path, validate_key
from ..db.ledger import release_if_read_only
from ..files import queries
from ..models import REMOTE_STORAGE_CLASS
from ..storage.writes import UploadTarget
from ..streams.uploads import check_upload_body
from .base import FilesView
from .bodies import check_json_or_empty, json_body
from .rdm import EntryLinks, completed_entry, files_list, pending_entry


def is_remote(obj: Any) -> bool:
    """Tell whether an object version is a remote file (no bytes, a URL)."""
    file = obj.file if obj is not None else None
    return file is not None and file.storage_class == REMOTE_STORAGE_CLASS


def links_of(view: FilesView) -> EntryLinks:
    """Links to the routes of the record a view serves."""
    context = view._link_context()
    return EntryLinks(context.get("endpoint"), context.get("pid_value"))


def entry_of(view: FilesView, item: Any) -> dict[str, Any]:
    """Return the InvenioRDM entry of a pending or completed file."""
    links = links_of(view)
    if hasattr(item, "obj"):
        return completed_entry(item, links)
    parts_base = links.url("object_api", key=item.key)
    return pending_entry(item, links, view.files.transfers.part_links(item, parts_base))


def commit_and_answer(body: Any, status: int = 200) -> Any:
    """Answer JSON; the request's work is committed first."""
    response = jsonify(body)
    response.status_code = status
    db.session.commit()
    return response


class TransferView(FilesView, ContentNegotiatedMethodView):  # type: ignore[misc]  # Invenio-REST is untyped
    """Base of the three-step views: a record's file, by key."""

    on_object = True

    def serve(self, pid: Any, record: Any, **kwargs: Any) -> Any:
        """Check the key before anything else happens."""
        if request.method != "OPTIONS" and "key" in kwargs:
            check_url_path(request.environ.get("PATH_INFO"))
            kwargs["key"] = validate_key(kwargs["key"])
        return super().serve(pid, record, **kwargs)


def announce(view: FilesView) -> Any:
    """Answer ``POST /files``: announce files, list them (201)."""
    data = json_body(
        'Send the files to announce as a JSON list, such as [{"key": "data.csv"}].'
    )
    results = view.files.transfers.init(data)
    body = files_list(
        [entry_of(view, item) for item in results],
        links_of(view),
        queries.default_preview(view.files.bucket.id),
    )
    return commit_and_answer(body, 201)


def sees_pending(view: FilesView) -> bool:
    """Tell whether the current user may see the record's pending files.

    Pending files (their keys, sizes, checksums, metadata, states, errors
    and part URLs) are the business of those who may update the record,
    also when its files are locked: readers see completed files only.
    """
    decision = access.decide(view.record, access.UPDATE, view.endpoint_options)
    return decision.allowed or decision.locked


def pending_entries(view: FilesView, size: int, first: bool) -> list[dict[str, Any]]:
    """Return a listing page's pending files as InvenioRDM entries.

    At most ``size`` of them, on the first page only, for those who may see
    them (:func:`sees_pending`). Read them *before* the page's completed
    rows: each statement sees the database as of its own start (PostgreSQL's
    read committed), so a file completed between the two reads then shows
    twice, which :func:`rdm_listing` undoes, and never not at all.
    """
    if not (first and sees_pending(view)):
        return []
    return [
        entry_of(view, found) for found in islice(view.files.transfers.pending(), size)
    ]


def rdm_listing(
    pending: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Return what a listing page adds for InvenioRDM clients.

    ``enabled`` and ``entries``: the page's files as InvenioRDM entries,
    the pending ones (:func:`pending_entries`) first. A key is pending or
    completed, never both; one seen both ways was completed between the
    two reads and shows once, completed.
    """
    # ``items``: the page's completed entries, built from its rows
    # (rest/listing_json.py).
    completed = {item["key"] for item in items}
    entries = [entry for entry in pending if entry["key"] not in completed]
    entries.extend(items)
    return {"enabled": True, "entries": entries}


class ContentResource(TransferView):
    """``PUT /files/<key>/content``: the bytes of a pending local file."""

    def put(self, bucket_id: Any = None, key: str = "", **kwargs: Any) -> Any:
        """Upload the bytes (``application/octet-stream``)."""
        check_upload_body()
        target = UploadTarget.of(self.files.writable_bucket())
        stream = request.stream
        # The body is streamed with no transaction open (see the one-step
        # upload in objects.py).
        release_if_read_only()
        found = self.files.transfers.set_content(
            key,
            stream,
            size=request.content_length,
            content_md5=request.headers.get("Content-MD5"),
            target=target,
        )
        return commit_and_answer(entry_of(self, found))


class PartResource(TransferView):
    """``PUT /files/<key>/content/<part>``: one part, through the application."""

    def put(
        self, bucket_id: Any = None, key: str = "", part: int = 0, **kwargs: Any
    ) -> Any:
        """Upload part ``part`` (numbered from 1)."""
        check_upload_body()
        found = self.files.transfers.upload_part(
            key,
            part,
            request.stream,
            size=request.content_length,
            content_md5=request.headers.get("Content-MD5"),
        )
        return commit_and_answer(entry_of(self, found))


class CommitResource(TransferView):
    """``POST /files/<key>/commit``: complete a pending file."""

    def post(self, bucket_id: Any = None, key: str = "", **kwargs: Any) -> Any:
        """Verify and complete; 202 while a worker verifies a direct upload."""
        check_json_or_empty()
        committed = self.files.transfers.commit(key)
        if committed.file is not None:
            return commit_and_answer(entry_of(self, committed.file))
        return commit_and_answer(entry_of(self, committed.pending), 202)


def abort_pending(view: FilesView, key: str) -> Any:
    """Answer ``DELETE /files/<key>`` for a pending file (204), else ``None``."""
    try:
        view.files.transfers.get(key)
    except KeyError:
        return None
    view.files.transfers.abort(key)
    response = view.make_response("", 204)
    db.session.commit()
    return response


__all__ = (
    "CommitResource",
    "ContentResource",
    "PartResource",
    "TransferView",
    "abort_pending",
    "announce",
    "commit_and_answer",
    "entry_of",
    "is_remote",
    "links_of",
    "pending_entries",
    "rdm_listing",
    "sees_pending",
)
