"""``POST <item route>/actions/files-import``: a new version imports its files.

InvenioRDM's ``POST /records/<id>/draft/actions/files-import``, on this
library's routes: with an endpoint mounted at ``/records/<pid>/draft`` the
path is the same. The record must be a new version made without its
files (:func:`invenio_records_files_ext.records.imports.new_version` with
``import_files=False``); the caller needs the update permission on it and
the read permission on the previous version. An optional JSON body
``{"previous": "<pid value>"}`` names the version the client expects the
files from (a PID of the endpoint's type): another record than the one
the new version was made from is refused. Answers 201 with the files list
in InvenioRDM's shape; 400 (JSON) when the record already has files, is
not a new version, or the version named is not its previous one.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from invenio_pidstore.errors import PIDDoesNotExistError
from invenio_pidstore.models import PersistentIdentifier

from ..access import decisions as access
from ..errors import NotThePreviousVersionError
from ..files import queries
from ..records import imports as files_import
from .base import FilesView
from .bodies import optional_json_body
from .rdm import files_list
from .transfers import commit_and_answer, entry_of, links_of


class FilesImportResource(FilesView, MethodView):
    """Import the previous version's files into a new version."""

    def post(self, bucket_id: Any = None, **kwargs: Any) -> Any:
        """Import, commit, answer the files (201)."""
        named = self._named_previous()
        previous = files_import.previous_version(self.record)
        if named is not None and named != previous.id:
            raise NotThePreviousVersionError()
        access.decide(previous, access.READ, self.endpoint_options).check()
        files_import.import_files(self.record, previous)
        body = files_list(
            [entry_of(self, fileobj) for fileobj in self.files],
            links_of(self),
            queries.default_preview(self.files.bucket.id),
        )
        return commit_and_answer(body, 201)

    def _named_previous(self) -> Any:
        """Return the record id the body's ``previous`` PID names, or ``None``."""
        body = optional_json_body()
        value = body.get("previous") if isinstance(body, dict) else None
        if value is None:
            return None
        try:
            pid = PersistentIdentifier.get(
                self.endpoint_options.get("pid_type"), str(value)
            )
        except PIDDoesNotExistError:
            raise NotThePreviousVersionError(
                "No record has the identifier {0!r}.".format(value)
            ) from None
        return pid.object_uuid


__all__ = ("FilesImportResource",)
