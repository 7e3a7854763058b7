"""``GET <item route>/files-archive``: the record's files as one zip archive.

Streamed (:func:`invenio_records_files_ext.archive.stream_archive`): no
temporary file, constant memory, the first bytes out at once. Access is
the one of the files (:func:`invenio_records_files_ext.access.decide`,
``read``), restricted files included.

``?format=bagit`` streams the same files as a BagIt bag
(:mod:`invenio_records_files_ext.bags`); ``?format=zip`` is the default.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, stream_with_context
from flask.views import MethodView

from ..archive import ArchiveLayout, PlainLayout, archive_name, stream_archive
from ..bags import bag_layout, bag_name
from ..errors import UnknownArchiveFormatError
from .base import FilesView


class RecordArchiveResource(FilesView, MethodView):
    """The zip archive of a record's current files."""

    on_object = True

    def get(self, bucket_id: Any) -> Any:
        """Stream the archive (``HEAD`` answers its headers only)."""
        pid_value = self.pid.pid_value if self.pid else bucket_id
        wanted = request.args.get("format", "zip")
        layout: ArchiveLayout
        if wanted == "zip":
            name, layout = archive_name(pid_value, self.role), PlainLayout()
        elif wanted == "bagit":
            name = bag_name(pid_value, self.role) + ".zip"
            layout = bag_layout(pid_value, self.record, self.role)
        else:
            raise UnknownArchiveFormatError()
        body: Any = ()
        if request.method != "HEAD":
            body = stream_with_context(
                stream_archive(self.files.bucket.id, layout=layout)
            )
        response = current_app.response_class(body, mimetype="application/zip")
        response.headers.add("Content-Disposition", "attachment", filename=name)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.cache_control.no_cache = True
        return response


__all__ = ("RecordArchiveResource",)
