"""The demo's record listing works without a search cluster.

``GET /records/`` (the URL ``./run-demo.sh`` prints) used to answer a 500
HTML page because no search cluster was configured. The demo now lists
records from its database, unless ``SEARCH_HOSTS`` names a cluster.
"""

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from examples import search
from examples.app import create_app
from tests.helpers import IsolatedClient, create_record


@pytest.fixture(scope="module")
def app(demo_app: Flask) -> Flask:
    """This module is about the demo: its application serves the requests."""
    return demo_app


def test_list_route_pages_through_the_database(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pids = [create_record(client, {"title": str(number)}) for number in range(5)]
    first = client.get("/records/?size=2")
    assert first.status_code == 200
    assert first.mimetype == "application/json"
    body = first.json
    assert body["hits"]["total"] == 5
    # Newest first.
    assert [hit["id"] for hit in body["hits"]["hits"]] == [pids[4], pids[3]]
    assert body["hits"]["hits"][0]["metadata"]["title"] == "4"
    assert body["hits"]["hits"][0]["links"]["files"].endswith(
        "/records/{0}/files".format(pids[4])
    )
    assert "next" in body["links"] and "prev" not in body["links"]
    seen = []
    page = 1
    while True:
        response = client.get("/records/?size=2&page={0}".format(page)).json
        seen += [hit["id"] for hit in response["hits"]["hits"]]
        if "next" not in response["links"]:
            break
        page += 1
    assert seen == list(reversed(pids))


def test_deleted_records_are_not_listed(client: IsolatedClient, db: SQLAlchemy) -> None:
    kept, deleted = create_record(client), create_record(client)
    assert client.delete("/records/{0}".format(deleted)).status_code == 204
    body = client.get("/records/").json
    assert body["hits"]["total"] == 1
    assert [hit["id"] for hit in body["hits"]["hits"]] == [kept]


def test_queries_need_a_search_cluster(client: IsolatedClient, db: SQLAlchemy) -> None:
    for query in ("q=title:x", "sort=mostrecent"):
        response = client.get("/records/?" + query)
        assert response.status_code == 400
        assert "SEARCH_HOSTS" in response.json["message"]


def test_search_hosts_switch_to_opensearch(
    monkeypatch: pytest.MonkeyPatch, base_config: dict[str, Any], tmp_path: Path
) -> None:
    monkeypatch.delenv("SEARCH_HOSTS", raising=False)
    assert search.endpoint_options()["search_class"].endswith(":DatabaseSearch")
    monkeypatch.setenv("SEARCH_HOSTS", "http://search1:9200, http://search2:9200")
    options = search.endpoint_options()
    assert options["search_class"] == "examples.search:RecordsOfTheDemo"
    assert options["indexer_class"] == "invenio_indexer.api:RecordIndexer"
    app = create_app(dict(base_config), instance_path=str(tmp_path / "instance"))
    assert app.config["SEARCH_HOSTS"] == ["http://search1:9200", "http://search2:9200"]
    assert "invenio-search" in app.extensions
    assert "invenio-indexer" in app.extensions
    endpoint = app.config["RECORDS_REST_ENDPOINTS"]["recid"]
    assert endpoint["search_class"] == "examples.search:RecordsOfTheDemo"
    assert search.RecordsOfTheDemo.Meta.index == search.DEMO_INDEX
