"""Browsing inside a zip file of a record.

* ``GET <files route>/<key>/container`` lists the members of the zip file
  ``key`` (name, sizes, CRC-32, folder or not, and a link to each), a page
  at a time (``?size=``, and the ``next`` link's ``?after=`` cursor);
* ``GET <files route>/<key>/container/<path>`` extracts the member ``path``.

These routes reserve the suffixes ``/container`` and ``/container/...`` of
file URLs: they are matched before the route of one file. A file whose key
itself ends in ``/container`` (or holds ``/container/``) is still served
when ``GET`` finds no zip file under the shorter key. Other methods (an
upload to such a key) go to the file route as usual.

The work is :mod:`invenio_records_files_ext.archives.containers`'s: the archive is
read with ranged reads, never whole; limits answer 413, damaged archives,
zip bombs and remote files 400. A member's first block is extracted before
the response starts (:func:`invenio_records_files_ext.streams.prefetch.started`):
damage found there answers 400 JSON; found later, it cuts the stream.
"""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Any
from urllib.parse import urlencode

from flask import jsonify, request
from flask.views import MethodView
from invenio_files_rest.helpers import send_stream

from ..archives import containers, member_pages
from ..db.keys import validate_key
from ..serializer import files_url, json_serializer
from ..streams.prefetch import started
from .base import FilesView
from .objects import RecordObjectResource
from .query_args import page_args

SUFFIX = "container"
"""The reserved path segment after a file's key."""


class ContainerView(FilesView, MethodView):
    """Shared by the listing and the extraction: find the zip file."""

    on_object = True

    def _object(self, key: str) -> Any:
        """Return the current object version of ``key``, or ``None``."""
        found = self.files.get(validate_key(key))
        return found.obj if found is not None else None

    def _as_file(self, key: str, member: Any = None) -> Any:
        """Serve the file whose key is the whole path, if there is one."""
        full = key + "/" + SUFFIX + ("/" + member if member is not None else "")
        view = RecordObjectResource(
            serializers={"application/json": json_serializer},
            endpoint=self.endpoint,
            endpoint_options=self.endpoint_options,
            role=self.role,
            view_prefix=self.view_prefix,
        )
        return view.serve(self.pid, self.record, key=full)

    def _listing_url(self, key: str) -> str:
        if not self._link_context():
            return str(request.base_url)
        return files_url(
            "container_api", self.files.bucket.id, **self._link_context(), key=key
        )

    def _container_url(self, key: str, member: str) -> str:
        return files_url(
            "container_member_api",
            self.files.bucket.id,
            **self._link_context(),
            key=key,
            path=member,
        )


class ContainerListResource(ContainerView):
    """``.../<key>/container``: the members of a zip file."""

    def get(self, bucket_id: Any, key: str) -> Any:
        """List one page of the members (``?size=``, ``?after=``)."""
        obj = self._object(key)
        if obj is None:
            return self._as_file(key)
        limits = member_pages.page_limits()
        args = page_args(limits.size, member_pages.max_page_size())
        size = args.size
        directory = containers.directory_of(obj)
        page = member_pages.members_page(
            directory,
            obj.version_id,
            args.after,
            member_pages.PageLimits(size, limits.name_bytes),
        )
        entries = containers.describe_members(page.members)
        if self._link_context():
            for entry in entries:
                if not entry["is_dir"]:
                    entry["links"] = {
                        "content": self._container_url(obj.key, entry["key"])
                    }
        body = {
            "key": obj.key,
            "version_id": str(obj.version_id),
            "total": len(directory.members),
            "total_size": directory.total_size,
            "entries": entries,
        }
        if page.next is not None:
            body["links"] = {
                "next": "{0}?{1}".format(
                    self._listing_url(obj.key),
                    urlencode({"size": size, "after": page.next}),
                )
            }
        return jsonify(body)


class ContainerMemberResource(ContainerView):
    """``.../<key>/container/<path>``: one member, extracted."""

    def get(self, bucket_id: Any, key: str, path: str) -> Any:
        """Extract the member (``?download`` for an attachment)."""
        obj = self._object(key)
        if obj is None:
            return self._as_file(key, path)
        extraction = containers.extract(obj, path)
        name = posixpath.basename(extraction.member.name) or "member"
        if request.method == "HEAD":
            extraction.chunks.close()
            body: Any = iter(())
        else:
            # Damage in the first block answers 400 here, not a server's 500.
            body = started(extraction.chunks, "{0}/{1}".format(obj.key, path))
        return send_stream(
            body,
            name,
            extraction.member.size,
            None,
            mimetype=mimetypes.guess_type(name)[0],
            restricted=True,
            as_attachment="download" in request.args,
            etag="crc32:{0:08x}-{1}".format(extraction.member.crc, obj.version_id),
            conditional=False,
        )


__all__ = ("ContainerListResource", "ContainerMemberResource", "SUFFIX")
