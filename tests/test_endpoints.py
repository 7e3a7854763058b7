"""A PID type with several records REST endpoints (``recid`` and ``recid_draft``).

The test application serves ``recid`` records at ``/records/<pid>`` and at
``/records/<pid>/draft``, each with its files routes.
"""

from flask_sqlalchemy import SQLAlchemy
from invenio_pidstore.models import PersistentIdentifier

from tests.helpers import IsolatedClient, create_record, upload


def _redirect(db: SQLAlchemy, old: str, new: str) -> None:
    PersistentIdentifier.get("recid", old).redirect(
        PersistentIdentifier.get("recid", new)
    )
    db.session.commit()


def test_both_endpoints_serve_the_same_files(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    pid = create_record(client)
    assert upload(client, pid, "a.txt", b"a").status_code == 200
    for prefix in ("/records/{0}", "/records/{0}/draft"):
        response = client.get((prefix + "/files/a.txt").format(pid))
        assert response.status_code == 200
        assert response.data == b"a"


def test_moved_pid_redirects_to_the_endpoint_the_request_came_through(
    client: IsolatedClient, db: SQLAlchemy
) -> None:
    old, new = create_record(client), create_record(client)
    assert upload(client, new, "a.txt", b"new").status_code == 200
    _redirect(db, old, new)
    for route in ("/records/{0}/files", "/records/{0}/draft/files"):
        for suffix, status in (
            ("", 301),
            ("/a.txt", 301),
            ("/a.txt/content", 301),
            ("/a.txt?versionId=x", 301),
        ):
            response = client.get(route.format(old) + suffix)
            assert response.status_code == status, (route, suffix)
            assert response.headers["Location"] == (
                "http://localhost" + route.format(new) + suffix
            )
        put = client.put(
            route.format(old) + "/b.txt",
            data=b"b",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 308
        assert put.headers["Location"] == (
            "http://localhost" + route.format(new) + "/b.txt"
        )
    archive = client.get("/records/{0}/draft/files-archive".format(old))
    assert archive.headers["Location"] == (
        "http://localhost/records/{0}/draft/files-archive".format(new)
    )
