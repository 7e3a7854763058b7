"""The record's files listed: one page at a time, in the record's order."""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlencode

from flask import request
from invenio_files_rest.models import ObjectVersion
from invenio_files_rest.proxies import current_permission_factory
from invenio_files_rest.views import BucketResource, check_permission, need_permissions
from marshmallow import missing

from ..db.versions import VersionCursor, versions_page
from ..files import queries
from ..serializer import BODY
from ..settings.current import current
from ..storage.checksums import objects_checksums
from .base import FilesView
from .listing_json import listing_body
from .query_args import page_args
from .transfers import announce, pending_entries, rdm_listing


def _page_links(
    url: str,
    size: int,
    **cursors: tuple[str, Optional[queries.Cursor | VersionCursor]],
) -> dict[str, str]:
    # ``name=(query parameter, cursor or None)`` for each link to make.
    links = {}
    for name, (param, cursor) in cursors.items():
        if cursor is not None:
            links[name] = "{0}?{1}".format(
                url, urlencode({"size": size, param: cursor.encode()})
            )
    return links


class RecordBucketResource(FilesView, BucketResource):  # type: ignore[misc]  # Files-REST is untyped
    """The record's bucket: list files, versions and multipart uploads."""

    def get(self, bucket_id: str, **kwargs: Any) -> Any:
        """List the files, their versions or the multipart uploads.

        As Invenio-Files-REST's ``GET`` does (``?versions``, ``?uploads``),
        but with the bucket that
        :meth:`~invenio_records_files_ext.rest.base.FilesView.serve` read:
        Files-REST's own ``GET`` would read it again, on every page.
        """
        bucket = self.files.bucket
        if bucket.deleted or str(bucket.id) != bucket_id:
            return super().get(bucket_id=bucket_id, **kwargs)  # its 404
        if "uploads" in request.args:
            return self.multipart_listuploads(bucket)
        return self.listobjects(
            bucket, request.args["versions"] if "versions" in request.args else missing
        )

    @need_permissions(lambda self, bucket, versions: bucket, "bucket-read")  # type: ignore[untyped-decorator]  # Files-REST is untyped
    def listobjects(self, bucket: Any, versions: Any) -> Any:
        """List one page of the files (or of all their versions).

        ``size`` sets the page size; the ``next`` and ``prev`` links carry
        the cursors (``after``, ``before``) of the neighbouring pages. Each
        page costs the same queries and memory whatever the record holds.
        """
        limits = current().listing
        args = page_args(limits.page_size, limits.max_page_size)
        size = args.size
        url = self.files_url("bucket_api", bucket.id)
        if versions is not missing:
            check_permission(
                current_permission_factory(bucket, "bucket-read-versions"),
                hidden=False,
            )
            page = versions_page(
                bucket.id,
                size,
                VersionCursor.decode(args.after) if args.after else None,
            )
            objects = page.items
            checksums = objects_checksums(objects)
            links = _page_links(url + "?versions", size, next=("after", page.next))
            links = {k: v.replace("?versions?", "?versions&") for k, v in links.items()}
        else:
            # Before the completed rows: see pending_entries.
            pending = pending_entries(self, size, first=args.first)
            rows_page = queries.rows_page(
                bucket.id,
                size,
                after=queries.Cursor.decode(args.after) if args.after else None,
                before=queries.Cursor.decode(args.before) if args.before else None,
            )
            links = _page_links(
                url,
                size,
                next=("after", rows_page.next),
                prev=("before", rows_page.prev),
            )
            # Built as dicts from the rows (rest/listing_json.py): no
            # schema pass and no url_for per file.
            built = listing_body(
                bucket,
                url,
                rows_page.rows,
                rows_page.entries,
                rows_page.tags,
                links,
                self._link_context(),
            )
            body = built.body
            body.update(rdm_listing(pending, built.entries))
            return self.make_response(data=body, context={BODY: True})
        return self.make_response(
            data=objects,
            context={
                "class": ObjectVersion,
                "bucket": bucket,
                "many": True,
                "page_links": links,
                "checksums": checksums,
            },
        )

    def post(self, *args: Any, **kwargs: Any) -> Any:
        """Announce files (InvenioRDM's ``POST /files``).

        See :mod:`invenio_records_files_ext.rest.transfers`.
        """
        return announce(self)
