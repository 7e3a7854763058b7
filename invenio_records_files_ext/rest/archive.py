"""``GET <item route>/files-archive``: the record's files as one zip archive.

Streamed (:func:`invenio_records_files_ext.archives.archive.prepare_archive`): no
temporary file, constant memory, with its exact ``Content-Length`` (its
members are stored: every size is known before the first byte); ``HEAD``
answers the headers only, the length included. The first block is
produced before the response starts, so a file that cannot be read there
answers JSON; later, the stream is cut and the error logged
(:mod:`invenio_records_files_ext.streams.prefetch`). Access is the one of the
files (:func:`invenio_records_files_ext.access.decisions.decide`, ``read``),
restricted files included.

``?format=bagit`` streams the same files as a BagIt bag
(:mod:`invenio_records_files_ext.archives.bags`); ``?format=zip`` is the default.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, stream_with_context
from flask.views import MethodView

from ..archives.archive import Layout, archive_name, files_layout, prepare_archive
from ..archives.bags import bag_layout, bag_name
from ..errors import UnknownArchiveFormatError
from ..streams.prefetch import started
from .base import FilesView


class RecordArchiveResource(FilesView, MethodView):
    """The zip archive of a record's current files."""

    on_object = True

    def get(self, bucket_id: Any) -> Any:
        """Stream the archive (``HEAD`` answers its headers only)."""
        pid_value = self.pid.pid_value if self.pid else bucket_id
        wanted = request.args.get("format", "zip")
        layout: Layout
        if wanted == "zip":
            name, layout = archive_name(pid_value, self.role), files_layout
        elif wanted == "bagit":
            name = bag_name(pid_value, self.role) + ".zip"
            layout = bag_layout(pid_value, self.record, self.role)
        else:
            raise UnknownArchiveFormatError()
        archive = prepare_archive(self.files.bucket.id, layout=layout)
        body: Any = ()
        if request.method != "HEAD":
            body = stream_with_context(started(archive.chunks, name))
        response = current_app.response_class(body, mimetype="application/zip")
        response.content_length = archive.length
        response.headers.add("Content-Disposition", "attachment", filename=name)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.cache_control.no_cache = True
        return response


__all__ = ("RecordArchiveResource",)
