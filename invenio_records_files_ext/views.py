"""Files routes under Invenio-Records-REST item routes.

For every endpoint named in ``RECORDS_FILES_REST_ENDPOINTS`` two routes are
mounted: ``<item_route><suffix>`` (the record's files: paged listing,
versions, multipart uploads) and ``<item_route><suffix>/<key>`` (one file:
download, upload, delete, multipart). They offer the verbs of
Invenio-Files-REST's bucket and object routes, with the record's bucket
injected, and add what a record needs: the record decides who may do what
(:mod:`invenio_records_files_ext.access.decisions`), keys are checked, uploads go
through the record's files API, and every answer is JSON.

This module keeps the names of ``invenio_records_files.views``; the views
themselves live in :mod:`invenio_records_files_ext.rest`.
"""

from .rest.listing import RecordBucketResource
from .rest.objects import RecordObjectResource
from .rest.routing import create_blueprint_from_app

__all__ = (
    "RecordBucketResource",
    "RecordObjectResource",
    "create_blueprint_from_app",
)
