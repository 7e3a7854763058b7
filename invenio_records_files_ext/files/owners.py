"""Which record a bucket belongs to, and which REST endpoint serves it.

A bucket is *linked* when ``records_buckets`` names it. The linked
record's permissions then decide who may read and change the bucket's
files, whichever route the request came by
(:mod:`invenio_records_files_ext.access.decisions`). To know which permission
factories apply and which routes to link to, the record's endpoint is
found from its persistent identifiers: the first registered PID whose type
has an Invenio-Records-REST endpoint, one with files routes
(``RECORDS_FILES_REST_ENDPOINTS``) preferred.

Lookups are remembered for the rest of the request, so the several
permission checks of one request cost the queries once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import current_app, has_request_context, request
from invenio_db import db
from invenio_pidstore.models import PersistentIdentifier, PIDStatus
from invenio_records_rest.utils import obj_or_import_string
from sqlalchemy import select

from ..api import FilesMixin, Record
from ..models import RecordsBuckets
from ..settings.current import current
from .buckets import FILES, MEDIA

_CACHE_ATTRIBUTE = "_invenio_records_files_links"


@dataclass(frozen=True)
class Endpoint:
    """The Invenio-Records-REST endpoint serving a record."""

    name: str
    """Name of the endpoint (the key in its configuration)."""

    options: Mapping[str, Any]
    """The endpoint's configuration (permission factories, record class...)."""

    pid: Any
    """The record's persistent identifier of the endpoint's type."""

    files_routes: bool
    """Whether the endpoint has files routes (``RECORDS_FILES_REST_ENDPOINTS``)."""


@dataclass(frozen=True)
class LinkedBucket:
    """A bucket linked to a record, with the record and its endpoint."""

    bucket_id: uuid.UUID
    """The bucket."""

    record: Any
    """The record, deleted ones included (``record.model.is_deleted``)."""

    endpoint: Optional[Endpoint]
    """The record's endpoint, or ``None`` if no endpoint serves its PIDs."""

    decided: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """Decisions the files view already made in this request, by action
    (:func:`~invenio_records_files_ext.access.decisions.decide`'s): the
    permission checks of Invenio-Files-REST's handlers then reuse them
    rather than deciding again."""

    @property
    def role(self) -> Optional[str]:
        """``"files"`` (``record.files``), ``"media"`` (``record.media_files``) or ``None``.

        A record normally has its files bucket and perhaps a media files
        bucket; data from older code may link more, which are neither.
        """
        bucket = getattr(self.record, "bucket", None)
        if bucket is not None and bucket.id == self.bucket_id:
            return FILES
        media = getattr(self.record, "media_bucket", None)
        if media is not None and media.id == self.bucket_id:
            return MEDIA
        return None

    @property
    def is_files_bucket(self) -> bool:
        """Whether the bucket is one the record's files views write through."""
        return self.role is not None


def as_bucket_id(value: Any) -> Optional[uuid.UUID]:
    """Return ``value`` as a bucket id, or ``None`` if it cannot be one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _record_endpoints() -> dict[str, list[tuple[str, Mapping[str, Any], bool]]]:
    """Return the records REST endpoints by PID type, files routes first."""
    config = current_app.config
    with_files = current().rest.endpoints
    names = ["RECORDS_REST_ENDPOINTS"] + [
        name for name in with_files if name != "RECORDS_REST_ENDPOINTS"
    ]
    found: dict[str, list[tuple[str, Mapping[str, Any], bool]]] = {}
    for config_name in names:
        endpoints = config.get(config_name) or {}
        routed = with_files.get(config_name) or {}
        for name, options in endpoints.items():
            pid_type = options.get("pid_type")
            if pid_type:
                found.setdefault(pid_type, []).append((name, options, name in routed))
    for candidates in found.values():
        candidates.sort(key=lambda candidate: not candidate[2])
    return found


def endpoint_of(record_id: Any) -> Optional[Endpoint]:
    """Return the endpoint serving the record ``record_id``, or ``None``."""
    by_type = _record_endpoints()
    if not by_type:
        return None
    pids = (
        db.session.execute(
            select(PersistentIdentifier)
            .where(
                PersistentIdentifier.object_type == "rec",
                PersistentIdentifier.object_uuid == record_id,
                PersistentIdentifier.pid_type.in_(list(by_type)),
                PersistentIdentifier.status.in_(
                    [PIDStatus.REGISTERED, PIDStatus.DELETED]
                ),
            )
            .order_by(PersistentIdentifier.id)
        )
        .scalars()
        .all()
    )
    best: Optional[Endpoint] = None
    for pid in pids:
        name, options, files_routes = by_type[pid.pid_type][0]
        endpoint = Endpoint(name, options, pid, files_routes)
        if files_routes:
            return endpoint
        best = best or endpoint
    return best


def record_class_of(endpoint: Optional[Endpoint]) -> type[Any]:
    """Return the endpoint's record class if it has files.

    Otherwise (or without an endpoint) :class:`~invenio_records_files_ext.api.Record`.
    """
    if endpoint is not None:
        record_class = obj_or_import_string(endpoint.options.get("record_class"))
        if isinstance(record_class, type) and issubclass(record_class, FilesMixin):
            return record_class
    return Record


def _cache() -> Optional[dict[uuid.UUID, Optional[LinkedBucket]]]:
    if not has_request_context():
        return None
    target = request._get_current_object()  # type: ignore[attr-defined]  # Flask types the proxy as Request
    cache = getattr(target, _CACHE_ATTRIBUTE, None)
    if cache is None:
        cache = {}
        setattr(target, _CACHE_ATTRIBUTE, cache)
    return cache


def remember(link: LinkedBucket) -> None:
    """Keep ``link`` for the rest of the request (no-op outside requests)."""
    cache = _cache()
    if cache is not None:
        cache[link.bucket_id] = link


def find(bucket_id: Any, cached: bool = True) -> Optional[LinkedBucket]:
    """Return the record linked to ``bucket_id``, or ``None`` if none is.

    Costs three queries (link, PIDs, record) the first time in a request and
    none after.

    :param cached: use (and fill) the request's cache; background work
        started from a request passes ``False``: it has a session of its own.
    """
    bucket_id = as_bucket_id(bucket_id)
    if bucket_id is None:
        return None
    cache = _cache() if cached else None
    if cache is not None and bucket_id in cache:
        return cache[bucket_id]
    record_id = db.session.execute(
        select(RecordsBuckets.record_id).where(RecordsBuckets.bucket_id == bucket_id)
    ).scalar()
    link = None
    if record_id is not None:
        endpoint = endpoint_of(record_id)
        record = record_class_of(endpoint).get_record(record_id, with_deleted=True)
        link = LinkedBucket(bucket_id, record, endpoint)
    if cache is not None:
        cache[bucket_id] = link
    return link


__all__ = (
    "Endpoint",
    "LinkedBucket",
    "as_bucket_id",
    "endpoint_of",
    "find",
    "record_class_of",
    "remember",
)
