"""The demo's routes for what the files REST API does not offer (yet).

The deposit page (:mod:`examples.page`) changes files through the library's
REST routes where they exist (upload, multipart upload, download, delete).
For the rest of a record's file life cycle these few JSON routes call the
library's Python API, and nothing else:

``PATCH  /demo/records/<pid>/file``
    rename a file and/or set its per-file metadata, in one transaction:
    ``{"key": "a.csv", "rename_to": "b.csv", "metadata": {"description":
    "..."}}`` (a ``null`` value removes that metadata);
``PUT    /demo/records/<pid>/order``
    ``{"keys": [...]}``: these files first, in this order;
``PUT    /demo/records/<pid>/lock`` / ``DELETE`` the same
    lock (publish) / unlock the files;
``POST   /demo/records/<pid>/versions``
    a new record whose files share the bytes of this one's
    (``files_import.new_version()``), linked to it both ways;
    ``{"import_files": false}`` makes it start without files, to import
    them later (``POST /records/<new pid>/actions/files-import``);
``POST   /demo/records/<pid>/restore``
    restore a soft-deleted record (``record.undelete()``).

Every answer is JSON; errors are ``{"status": ..., "message": ...}``.
**Like the rest of the demo, these routes let anybody do anything.**
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, Optional, overload

from flask import Blueprint, jsonify, request
from invenio_db import db
from invenio_pidstore.errors import PIDDoesNotExistError
from invenio_pidstore.models import PersistentIdentifier, PIDStatus
from invenio_pidstore.proxies import current_pidstore

from invenio_records_files_ext.access import decisions as access
from invenio_records_files_ext.api import Record
from invenio_records_files_ext.errors import (
    RecordGoneError,
    RecordNotFoundError,
    RecordsFilesError,
)
from invenio_records_files_ext.files.entries import user_metadata
from invenio_records_files_ext.files.iterator import FilesIterator
from invenio_records_files_ext.records import imports as files_import
from invenio_records_files_ext.rest.errors import register_error_handlers

PID_TYPE = "recid"
"""PID type of the demo's records."""

PREVIOUS_VERSION = "previous_version"
"""Record key naming the PID of the record a new version was made from."""

NEXT_VERSION = "next_version"
"""Record key naming the PID of the newest version made from a record."""

blueprint = Blueprint("demo_actions", __name__, url_prefix="/demo/records/<pid_value>")


class DemoRequestError(RecordsFilesError):
    """A request to the demo's routes that cannot be served as sent."""

    code = 400


class NotDeletedError(RecordsFilesError):
    """Restoring a record that is not deleted."""

    code = 409


def _resolve(pid_value: str, deleted: bool = False) -> tuple[Any, Record]:
    """Return the PID and record; a deleted record only with ``deleted``."""
    try:
        pid = PersistentIdentifier.get(PID_TYPE, pid_value)
    except PIDDoesNotExistError:
        raise RecordNotFoundError(pid_value) from None
    record = Record.get_record(pid.object_uuid, with_deleted=True)
    if record.model.is_deleted and not deleted:
        raise RecordGoneError("The record has been deleted.")
    return pid, record


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise DemoRequestError("Send a JSON object.")
    return body


@overload
def _string(body: dict[str, Any], name: str, required: Literal[True] = ...) -> str: ...


@overload
def _string(body: dict[str, Any], name: str, required: bool) -> Optional[str]: ...


def _string(body: dict[str, Any], name: str, required: bool = True) -> Optional[str]:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise DemoRequestError("'{0}' must be a non-empty string.".format(name))
    return value


def _files(record: Record) -> FilesIterator:
    # The demo's records all have a bucket (Record makes one).
    files = record.files
    assert files is not None, "the record has no bucket"
    return files


def _may_change(record: Record) -> None:
    # The library's decision for changing files: 410 for a deleted record,
    # 403 for locked files, then the record's update permission.
    access.decide(record, access.UPDATE).check()


def _entry(record: Record, key: str) -> dict[str, Any]:
    fileobj = _files(record)[key]
    return {"key": fileobj.key, "metadata": user_metadata(fileobj.data)}


@blueprint.route("/file", methods=["PATCH"])
def edit_file(pid_value: str) -> Any:
    """Rename a file and/or change its per-file metadata."""
    body = _json_body()
    key = _string(body, "key")
    new_key = _string(body, "rename_to", required=False)
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict):
        raise DemoRequestError("'metadata' must be an object.")
    _, record = _resolve(pid_value)
    _may_change(record)
    files = _files(record)
    if new_key is not None and new_key != key:
        files.rename(key, new_key)
        key = new_key
    fileobj = files[key]
    for name, value in metadata.items():
        if value is None:
            if name in fileobj:
                del fileobj[name]
        else:
            fileobj[name] = value
    db.session.commit()
    return jsonify(_entry(record, key))


@blueprint.route("/order", methods=["PUT"])
def reorder(pid_value: str) -> Any:
    """Put the files named first, in this order."""
    keys = _json_body().get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise DemoRequestError("'keys' must be a list of file keys.")
    _, record = _resolve(pid_value)
    _may_change(record)
    _files(record).sort_by(*keys)
    db.session.commit()
    return jsonify({"keys": _files(record).keys})


@blueprint.route("/lock", methods=["PUT", "DELETE"])
def lock(pid_value: str) -> Any:
    """Lock (``PUT``) or unlock (``DELETE``) the record's files."""
    _, record = _resolve(pid_value)
    # Locked files refuse "update": the demo lets anybody who may read the
    # record publish it; a site checks its own publish permission here.
    access.decide(record, access.READ).check()
    if request.method == "PUT":
        _files(record).lock()
    else:
        _files(record).unlock()
    db.session.commit()
    return jsonify({"locked": _files(record).locked})


@blueprint.route("/versions", methods=["POST"])
def new_version(pid_value: str) -> Any:
    """Create a new record whose files share this record's bytes."""
    pid, record = _resolve(pid_value)
    access.decide(record, access.READ).check()
    record_id = uuid.uuid4()
    data = {"title": record.get("title", ""), PREVIOUS_VERSION: pid.pid_value}
    new_pid = current_pidstore.minters[PID_TYPE](record_id, data)
    body = request.get_json(silent=True)
    import_files = not (isinstance(body, dict) and body.get("import_files") is False)
    new = files_import.new_version(
        record, data, id_=record_id, import_files=import_files
    )
    record[NEXT_VERSION] = new_pid.pid_value
    record.commit()
    db.session.commit()
    return jsonify({"id": new_pid.pid_value, "files": new.files.keys}), 201


@blueprint.route("/restore", methods=["POST"])
def restore(pid_value: str) -> Any:
    """Restore a soft-deleted record: its metadata, identifier and files."""
    pid, record = _resolve(pid_value, deleted=True)
    if not record.model.is_deleted:
        raise NotDeletedError("The record is not deleted.")
    metadata = _metadata_before_deletion(record)
    # The files come back as they were (the library keeps them on soft
    # deletion); Invenio-Records brings back an empty JSON, so the metadata
    # is taken from the last revision that had some.
    record.undelete()
    record.update(metadata)
    record.commit()
    if pid.status == PIDStatus.DELETED:
        pid.status = PIDStatus.REGISTERED
    db.session.commit()
    return jsonify({"id": pid.pid_value, "locked": _files(record).locked})


def _metadata_before_deletion(record: Record) -> dict[str, Any]:
    """Return the record's metadata from its last revision that had some."""
    kept = [v for v in record.model.versions if v.json]
    if not kept:
        return {}
    last = max(kept, key=lambda version: version.transaction_id)
    # ``_bucket`` and the files' keys are the library's, not metadata.
    return {k: v for k, v in last.json.items() if not k.startswith("_")}


# The library's errors (a missing file is a 404 KeyError) and HTTP errors
# answer JSON through the library's one table.
register_error_handlers(blueprint)
