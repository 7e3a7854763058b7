"""The demo's record listing: from the database, or from OpenSearch.

Invenio-Records-REST answers ``GET /records/`` from a search cluster. The
demo must work on a laptop without one, so by default its list route reads
the records from the database instead (:class:`DatabaseSearch`): newest
first, paginated with ``page`` and ``size``, and nothing else (no query, no
sorting, no facets).

With ``SEARCH_HOSTS`` set in the environment (for example
``SEARCH_HOSTS=http://localhost:9200``), the demo uses that OpenSearch
cluster instead: records are indexed when they are created or updated
through REST, and listed by Invenio-Search.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import request
from invenio_db import db
from invenio_pidstore.models import PersistentIdentifier, PIDStatus
from invenio_records.models import RecordMetadata
from invenio_rest.errors import RESTException
from invenio_search.api import RecordsSearch
from sqlalchemy import func, select

from invenio_records_files_ext.api import Record

DEMO_INDEX = "demo-records"
"""Index (alias) of the demo's records when a search cluster is configured."""


def search_hosts() -> list[str]:
    """Return the search cluster URLs from ``SEARCH_HOSTS`` (comma separated)."""
    value = os.environ.get("SEARCH_HOSTS", "")
    return [host.strip() for host in value.split(",") if host.strip()]


class QueryNotSupportedError(RESTException):  # type: ignore[misc]  # Invenio-REST is untyped
    """The database listing does not search."""

    code = 400
    description = (
        "This demo lists records from its database, newest first: searching "
        "(q) and sorting need a search cluster (set SEARCH_HOSTS)."
    )


@dataclass
class Hits:
    """The ``hits`` of a result, as Invenio-Records-REST reads them."""

    total: dict[str, Any]
    hits: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DatabaseResult:
    """One page of records, shaped like a search engine's answer."""

    hits: Hits

    def to_dict(self) -> dict[str, Any]:
        """Return the answer as Invenio-Records-REST's serializers read it."""
        return {"hits": {"total": self.hits.total, "hits": self.hits.hits}}


def _hit(record: Record) -> dict[str, Any]:
    source = record.dumps()
    for name, value in (("_created", record.created), ("_updated", record.updated)):
        source[name] = value.isoformat() if value else None
    return {"_id": str(record.id), "_version": record.revision_id, "_source": source}


class DatabaseSearch:
    """Lists the records of one PID type from the database.

    Offers the few methods Invenio-Records-REST calls on a search object:
    those of its list view, and ``get_record``/``count`` of its default read
    permission (``check_search``).
    """

    pid_type = "recid"

    class Meta:
        """What Invenio-Records-REST reads of a search class."""

        index = DEMO_INDEX

    def __init__(
        self, start: int = 0, stop: Optional[int] = None, record_id: Any = None
    ) -> None:
        """List the records ``start`` to ``stop`` (newest first)."""
        self.start = start
        self.stop = stop
        self.record_id = record_id

    def with_preference_param(self) -> DatabaseSearch:
        """Return the search (no routing preference here)."""
        return self

    def params(self, **kwargs: Any) -> DatabaseSearch:
        """Return the search (no engine parameters here)."""
        return self

    def extra(self, **kwargs: Any) -> DatabaseSearch:
        """Return the search (totals are always exact here)."""
        return self

    def __getitem__(self, window: slice) -> DatabaseSearch:
        """Return the search limited to a page window."""
        return type(self)(window.start or 0, window.stop, self.record_id)

    def get_record(self, record_id: Any) -> DatabaseSearch:
        """Return the search limited to one record."""
        return type(self)(self.start, self.stop, record_id)

    def count(self) -> int:
        """Return how many records the search finds."""
        return int(
            db.session.execute(
                select(func.count()).select_from(self._listed().subquery())
            ).scalar_one()
        )

    def _listed(self) -> Any:
        query = (
            select(RecordMetadata.id)
            .join(
                PersistentIdentifier,
                PersistentIdentifier.object_uuid == RecordMetadata.id,
            )
            .where(
                PersistentIdentifier.pid_type == self.pid_type,
                PersistentIdentifier.status == PIDStatus.REGISTERED,
                RecordMetadata.json.isnot(None),
            )
        )
        if self.record_id is not None:
            query = query.where(RecordMetadata.id == self.record_id)
        return query

    def execute(self) -> DatabaseResult:
        """Read one page of records and the total from the database."""
        total = self.count()
        page = (
            self._listed()
            .order_by(RecordMetadata.created.desc(), RecordMetadata.id.desc())
            .offset(self.start)
        )
        if self.stop is not None:
            page = page.limit(max(self.stop - self.start, 0))
        ids = list(db.session.execute(page).scalars())
        records = {record.id: record for record in Record.get_records(ids)}
        hits = [_hit(records[id_]) for id_ in ids if id_ in records]
        return DatabaseResult(Hits({"value": total, "relation": "eq"}, hits))


def database_search_factory(
    view: Any, search: Any, query_parser: Any = None
) -> tuple[Any, dict[str, Any]]:
    """Search factory of the database listing: pagination only.

    :raises QueryNotSupportedError: for a query or a sort order.
    """
    if request.values.get("q") or request.values.get("sort"):
        raise QueryNotSupportedError()
    return search, {}


def endpoint_options() -> dict[str, Any]:
    """Return the search options of the demo's records REST endpoint."""
    if search_hosts():
        return dict(
            search_class="examples.search:RecordsOfTheDemo",
            indexer_class="invenio_indexer.api:RecordIndexer",
        )
    return dict(
        search_class="examples.search:DatabaseSearch",
        search_factory_imp="examples.search:database_search_factory",
        indexer_class=None,
    )


class RecordsOfTheDemo(RecordsSearch):  # type: ignore[misc]  # Invenio-Search is untyped
    """The demo's records in the search cluster (``SEARCH_HOSTS``)."""

    class Meta:
        index = DEMO_INDEX
        doc_types = None
        fields = ("*",)
        facets: dict[str, Any] = {}


def init_search(app: Any) -> None:
    """Initialise Invenio-Search and Invenio-Indexer when a cluster is set."""
    hosts = search_hosts()
    if not hosts:
        return
    from invenio_indexer import InvenioIndexer
    from invenio_search import InvenioSearch

    app.config.setdefault("SEARCH_HOSTS", hosts)
    app.config.setdefault("INDEXER_DEFAULT_INDEX", DEMO_INDEX)
    InvenioSearch(app)
    InvenioIndexer(app)
