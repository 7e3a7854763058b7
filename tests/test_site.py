"""A real Invenio site: who may do what with a record's files, on every route.

The site is Invenio-App's ``create_api`` with ``examples/site/invenio.cfg``
(see :mod:`tests.site`): extensions and blueprints from entry points, users
and roles from Invenio-Accounts and Invenio-Access, no search cluster.
Four users (anonymous, the record's owner, another user, a superuser) try
to upload, list, download, see old versions and delete, on the record's
route (``/records/<pid>/files``) and on Invenio-Files-REST's
(``/files/<bucket>``), under four settings. ``pytest -s`` prints the table.

Then an attacker goes through a real gunicorn server: bucket ids learnt
from public records, anonymous and other users against Files-REST's routes.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.servers import Server, free_port
from tests.site import (
    PASSWORD,
    SITE_CONFIG,
    USERS,
    Site,
    SiteRecord,
    built_site,
    create_record,
    email,
)

SHIPPED = runpy.run_path(SITE_CONFIG)
"""The settings of examples/site/invenio.cfg."""

PERMISSION_OPTIONS = (
    "read_permission_factory_imp",
    "create_permission_factory_imp",
    "update_permission_factory_imp",
    "delete_permission_factory_imp",
)
OWNERS = "invenio_records_files_ext.access.permissions:owner_permission_factory"
ALLOW_ALL = "invenio_records_rest.utils:allow_all"


def _endpoints(**options: Any) -> dict[str, dict[str, Any]]:
    endpoint = {
        key: value
        for key, value in SHIPPED["RECORDS_REST_ENDPOINTS"]["recid"].items()
        if key not in PERMISSION_OPTIONS
    }
    endpoint.update(options)
    return {"recid": endpoint}


SCENARIOS: dict[str, dict[str, Any]] = {
    "stock": dict(RECORDS_REST_ENDPOINTS=_endpoints()),
    "update = owners": dict(
        RECORDS_REST_ENDPOINTS=_endpoints(update_permission_factory_imp=OWNERS)
    ),
    "update = owners, FILES_REST_PERMISSION_FACTORY = allow_all": dict(
        RECORDS_REST_ENDPOINTS=_endpoints(update_permission_factory_imp=OWNERS),
        FILES_REST_PERMISSION_FACTORY=ALLOW_ALL,
    ),
    "invenio.cfg as shipped": {},
}
"""Settings on top of invenio.cfg: the stock permissions of
Invenio-Records-REST (no factory on the endpoint), the owners' rule, the
same with Files-REST opened (what sites used to do to make files work), and
the site page's configuration (public records, owners change them)."""

WRITERS = {
    "stock": {"admin"},
    "update = owners": {"owner", "admin"},
    "update = owners, FILES_REST_PERMISSION_FACTORY = allow_all": {"owner", "admin"},
    "invenio.cfg as shipped": {"owner", "admin"},
}
"""Who may change the files; everybody may read them in every scenario."""

PEOPLE = ("anonymous",) + USERS
ROUTES = ("record", "files-rest")
ACTIONS = ("upload", "list", "download", "versions", "old version", "delete")
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def site(database_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with built_site(database_uri, str(tmp_path_factory.mktemp("site"))) as built:
        yield built


def victim(person: str, route: str) -> str:
    return "victim-{0}-{1}.txt".format(person, route)


def expected(scenario: str, person: str, action: str) -> int:
    """The intended answer."""
    if action in ("list", "download"):
        return 200
    if person in WRITERS[scenario]:
        return 204 if action == "delete" else 200
    return 401 if person == "anonymous" else 403


def log_in(client: FlaskClient, person: str) -> FlaskClient:
    if person != "anonymous":
        response = client.post(
            "/login", data={"email": email(person), "password": PASSWORD}
        )
        assert response.status_code == 200, response.data
    return client


def attempt(
    client: FlaskClient, base: str, record: SiteRecord, person: str, route: str
) -> tuple[dict[str, int], list[tuple[str, TestResponse]]]:
    """Try every action on one route; return the statuses and the refusals."""
    calls: dict[str, Callable[[], TestResponse]] = {
        "upload": lambda: client.put(
            "{0}/new-{1}-{2}.txt".format(base, person, route), data=b"x", headers=OCTETS
        ),
        "list": lambda: client.get(base),
        "download": lambda: client.get(base + "/data.txt"),
        "versions": lambda: client.get(base + "?versions"),
        "old version": lambda: client.get(
            "{0}/data.txt?versionId={1}".format(base, record.old_version_id)
        ),
        "delete": lambda: client.delete("{0}/{1}".format(base, victim(person, route))),
    }
    statuses: dict[str, int] = {}
    refusals: list[tuple[str, TestResponse]] = []
    for action, call in calls.items():
        response = call()
        statuses[action] = response.status_code
        if response.status_code >= 400:
            refusals.append((action, response))
        else:
            # A download streams its file: closing the response closes it.
            response.close()
    return statuses, refusals


def print_table(rows: list[list[object]]) -> None:
    header = ["settings", "user", "route"] + list(ACTIONS)
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(3)]
    print()
    for row in [header] + rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        cells += ["{0:>11}".format(cell) for cell in row[3:]]
        print(" | ".join(cells))


def test_permission_table(site: Site) -> None:
    rows: list[list[object]] = []
    wrong: list[tuple[str, str, str, str, int]] = []
    for scenario, settings in SCENARIOS.items():
        app = site.create_api(**settings)
        keys = tuple(victim(person, route) for person in PEOPLE for route in ROUTES)
        record = create_record(app, [site.user_ids["owner"]], keys)
        bases = {
            "record": "/records/{0}/files".format(record.pid_value),
            "files-rest": "/files/{0}".format(record.bucket_id),
        }
        for person in PEOPLE:
            client = log_in(app.test_client(), person)
            for route in ROUTES:
                statuses, refusals = attempt(
                    client, bases[route], record, person, route
                )
                rows.append([scenario, person, route] + [statuses[a] for a in ACTIONS])
                for action in ACTIONS:
                    if statuses[action] != expected(scenario, person, action):
                        wrong.append(
                            (scenario, person, route, action, statuses[action])
                        )
                for action, response in refusals:
                    # Honest refusals: JSON with a message.
                    body = response.json
                    assert body is not None, (action, response.data)
                    assert body["status"] == response.status_code
                    assert body["message"], (action, response.data)
    print_table(rows)
    assert wrong == []


def test_search_cluster_is_not_needed(site: Site) -> None:
    """Stock read permission (a search query) is answered from the database."""
    app = site.create_api(**SCENARIOS["stock"])
    record = create_record(app, [site.user_ids["owner"]])
    client = app.test_client()
    listing = client.get("/records/{0}/files".format(record.pid_value))
    assert listing.status_code == 200, listing.data
    assert [item["key"] for item in listing.json["contents"]] == ["data.txt"]


def test_links_use_the_site_api_url(site: Site) -> None:
    app = site.create_api()
    record = create_record(app, [site.user_ids["owner"]])
    client = app.test_client()
    files = "{0}/records/{1}/files".format(SHIPPED["SITE_API_URL"], record.pid_value)
    listing = client.get("/records/{0}/files".format(record.pid_value)).json
    assert listing["links"]["self"] == files
    assert listing["contents"][0]["links"]["self"] == files + "/data.txt"
    shown = client.get("/records/{0}".format(record.pid_value)).json
    assert shown["links"]["files"] == files
    from_files_rest = client.get("/files/{0}".format(record.bucket_id)).json
    assert from_files_rest["links"]["self"] == files


def test_owners_write_through_the_library(site: Site) -> None:
    """An owner's upload through Files-REST's route lands in the record."""
    app = site.create_api()
    record = create_record(app, [site.user_ids["owner"]])
    client = log_in(app.test_client(), "owner")
    url = "/files/{0}/notes.txt".format(record.bucket_id)
    assert client.put(url, data=b"n", headers=OCTETS).status_code == 200
    shown = app.test_client().get("/records/{0}".format(record.pid_value)).json
    keys = [entry["key"] for entry in shown["metadata"]["_files"]]
    assert keys == ["data.txt", "notes.txt"]


#
# An attacker against a real server
#
@pytest.fixture(scope="module")
def server(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    # The server opens Files-REST's factory, as sites did to make uploads
    # work: records must protect their buckets anyway.
    env = site.environment(
        SITE_API_URL="http://127.0.0.1:{0}/api".format(port),
        FILES_REST_PERMISSION_FACTORY=ALLOW_ALL,
    )
    # Where the server's log goes.
    env["DEMO_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("site-server"))
    running = Server(
        "gunicorn",
        env,
        target="tests.site_wsgi:application",
        ready_path="/api/ping",
        port=port,
    )
    yield running
    running.stop()


def session_of(server: Server, person: str) -> requests.Session:
    session = requests.Session()
    if person != "anonymous":
        response = session.post(
            server.url + "/api/login",
            data={"email": email(person), "password": PASSWORD},
        )
        assert response.status_code == 200, response.text
    return session


def refused(response: requests.Response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.json()["status"] == status
    assert response.json()["message"]


@pytest.mark.gunicorn
def test_attacker_through_gunicorn(site: Site, server: Server) -> None:
    app = site.create_api()
    record = create_record(app, [site.user_ids["owner"]])
    api = server.url + "/api"
    anonymous, other = session_of(server, "anonymous"), session_of(server, "other")
    # What anyone learns from a public record: its bucket.
    shown = anonymous.get("{0}/records/{1}".format(api, record.pid_value))
    assert shown.status_code == 200, server.logs()[-3000:]
    bucket = shown.json()["metadata"]["_bucket"]
    assert bucket == record.bucket_id
    assert shown.json()["links"]["files"].startswith(api + "/records/")
    files = "{0}/files/{1}".format(api, bucket)
    for variant in (files, files.replace(bucket, bucket.upper())):
        for session, status in ((anonymous, 401), (other, 403)):
            refused(
                session.put(variant + "/data.txt", data=b"evil", headers=OCTETS), status
            )
            refused(
                session.put(variant + "/new.txt", data=b"evil", headers=OCTETS), status
            )
            refused(session.delete(variant + "/data.txt"), status)
            refused(
                session.post(variant + "/big.bin?uploads&size=10&partSize=5"), status
            )
            refused(session.get(variant + "?uploads"), status)
            refused(session.get(variant + "?versions"), status)
            refused(
                session.get(
                    "{0}/data.txt?versionId={1}".format(variant, record.old_version_id)
                ),
                status,
            )
            refused(
                session.delete(
                    "{0}/data.txt?versionId={1}".format(variant, record.old_version_id)
                ),
                status,
            )
    assert anonymous.get(files + "/data.txt").content == b"data"
    listing = anonymous.get(files).json()
    assert [item["key"] for item in listing["contents"]] == ["data.txt"]
    # Nothing changed.
    versions = session_of(server, "owner").get(files + "?versions").json()
    assert len(versions["contents"]) == 2
    # A key the library refuses is refused on Files-REST's route too.
    owner = session_of(server, "owner")
    refused(owner.put(files + "/a/%2E%2E/b.txt", data=b"x", headers=OCTETS), 400)
    # Guessing buckets gets nowhere.
    assert anonymous.get("{0}/files/{1}".format(api, "0" * 32)).status_code == 404
    # A bucket of no record is Files-REST's business: open on this server.
    created = anonymous.post(api + "/files")
    assert created.status_code == 200, created.text
    loose = "{0}/files/{1}".format(api, created.json()["id"])
    assert anonymous.get(loose).json()["contents"] == []
    # A soft-deleted record's files are gone from every route.
    from invenio_db import db

    from invenio_records_files_ext.api import Record

    with app.app_context():
        Record.get_record(record.record_id).delete()
        db.session.commit()
    for session in (anonymous, owner):
        refused(session.get(files + "/data.txt"), 410)
        refused(session.get(files), 410)
        refused(session.put(files + "/x.txt", data=b"x", headers=OCTETS), 410)
    refused(
        anonymous.get("{0}/records/{1}/files/data.txt".format(api, record.pid_value)),
        410,
    )


@pytest.mark.gunicorn
def test_locked_files_refuse_writes_through_gunicorn(
    site: Site, server: Server
) -> None:
    app = site.create_api()
    record = create_record(app, [site.user_ids["owner"]])
    from invenio_db import db

    from invenio_records_files_ext.api import Record

    with app.app_context():
        Record.get_record(record.record_id).files.lock()
        db.session.commit()
    owner, admin = session_of(server, "owner"), session_of(server, "admin")
    files = "{0}/api/files/{1}".format(server.url, record.bucket_id)
    for session in (owner, admin):
        response = session.put(files + "/data.txt", data=b"x", headers=OCTETS)
        refused(response, 403)
        assert "locked" in response.json()["message"]
    assert owner.get(files + "/data.txt").content == b"data"


def test_installed_when_the_app_is_built(site: Site) -> None:
    """Invenio-Base's finalize hook wraps Files-REST before any request."""
    from invenio_records_files_ext.access.decisions import FilesRestPermissionFactory

    app = site.create_api()
    assert app.view_functions["invenio_files_rest.object_api"].records_files_guard
    assert app.view_functions["invenio_files_rest.bucket_api"].records_files_guard
    state = app.extensions["invenio-files-rest"]
    assert isinstance(state.permission_factory, FilesRestPermissionFactory)
