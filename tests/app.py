"""The application the tests run on, configured here rather than by the demo.

It holds the extensions the tests exercise (Invenio-DB, -Records, -PIDStore,
-Files-REST, -Records-REST, -REST and this package) with a configuration
written out in full below, so that a change to the demo
(``examples/app.py``) changes no test but the demo's own. Tests about the
demo use the ``demo_app`` fixture instead.
"""

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_login import LoginManager
from invenio_celery import InvenioCelery
from invenio_db import InvenioDB
from invenio_files_rest import InvenioFilesREST
from invenio_files_rest.views import blueprint as files_rest_blueprint
from invenio_i18n import InvenioI18N
from invenio_pidstore import InvenioPIDStore
from invenio_records import InvenioRecords
from invenio_records_rest import InvenioRecordsREST
from invenio_records_rest.utils import PIDConverter, allow_all, deny_all
from invenio_records_rest.views import create_blueprint_from_app as records_blueprint
from invenio_rest import InvenioREST

from invenio_records_files_ext import InvenioRecordsFiles
from invenio_records_files_ext.db.sqlite import init_sqlite_app
from invenio_records_files_ext.views import create_blueprint_from_app as files_blueprint

RECORD_CLASS = "invenio_records_files_ext.api:Record"
"""The record class of the ``recid`` endpoint."""


def recid_endpoint() -> dict[str, Any]:
    """Return the Records-REST endpoint ``recid``: ``/records/`` and ``/records/<pid>``.

    No indexer: records are created and read through the database only (no
    test lists them through a search engine).
    """
    return dict(
        pid_type="recid",
        pid_minter="recid",
        pid_fetcher="recid",
        record_class=RECORD_CLASS,
        indexer_class=None,
        list_route="/records/",
        item_route='/records/<pid(recid,record_class="{0}"):pid_value>'.format(
            RECORD_CLASS
        ),
        record_serializers={
            "application/json": "invenio_records_rest.serializers:json_v1_response",
        },
        search_serializers={
            "application/json": "invenio_records_rest.serializers:json_v1_search",
        },
        links_factory_imp=(
            "invenio_records_files_ext.links:default_record_files_links_factory"
        ),
        default_media_type="application/json",
    )


def draft_endpoint() -> dict[str, Any]:
    """Return a second endpoint of ``recid`` records at ``/records/<pid>/draft``.

    InvenioRDM serves a record's draft there: its clients (inveniordm-py)
    send the files calls to ``/records/<pid>/draft/files``. It also makes
    ``recid`` a PID type with several endpoints.
    """
    endpoint = recid_endpoint()
    endpoint.update(
        list_route="/drafts/",
        item_route='/records/<pid(recid,record_class="{0}"):pid_value>/draft'.format(
            RECORD_CLASS
        ),
    )
    return endpoint


def app_config(database_uri: str, instance_path: str) -> dict[str, Any]:
    """Return the configuration of the test application."""
    engine_options: dict[str, Any] = {"pool_pre_ping": True}
    if database_uri.startswith("postgresql"):
        engine_options["connect_args"] = {"options": "-c timezone=UTC"}
    return dict(
        TESTING=True,
        SERVER_NAME="localhost",
        SECRET_KEY="tests-only-not-secret",
        SQLALCHEMY_DATABASE_URI=database_uri,
        # Some tests restart PostgreSQL: check pooled connections first.
        SQLALCHEMY_ENGINE_OPTIONS=engine_options,
        FILES_STORAGE_PATH=os.path.join(instance_path, "files"),
        # Buckets linked to a record follow the record's permissions; the
        # others stay closed.
        FILES_REST_PERMISSION_FACTORY=deny_all,
        FILES_REST_STORAGE_FACTORY=(
            "invenio_records_files_ext.storage.writes:pyfs_storage_factory"
        ),
        FILES_REST_OBJECT_KEY_MAX_LEN=1024,
        FILES_REST_TASK_WAIT_INTERVAL=0.1,
        RECORDS_REST_DEFAULT_CREATE_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_DEFAULT_READ_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_DEFAULT_UPDATE_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_DEFAULT_DELETE_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_ENDPOINTS=dict(
            recid=recid_endpoint(), recid_draft=draft_endpoint()
        ),
        RECORDS_FILES_REST_ENDPOINTS={
            "RECORDS_REST_ENDPOINTS": {"recid": "/files", "recid_draft": "/files"}
        },
        RECORDS_FILES_REST_MEDIA_ENDPOINTS={
            "RECORDS_REST_ENDPOINTS": {"recid": "/media-files"}
        },
        # Fetch transfers run in the request; the real-worker test names
        # its own broker (tests/test_transfers_worker.py).
        CELERY_BROKER_URL="memory://",
        BROKER_URL="memory://",
        CELERY_RESULT_BACKEND=None,
        CELERY_TASK_ALWAYS_EAGER=True,
        CELERY_TASK_EAGER_PROPAGATES=False,
    )


def create_test_app(config: Mapping[str, Any], instance_path: str) -> Flask:
    """Create an application with ``config`` (see :func:`app_config`).

    It creates no table: the ``app`` fixture does, once per session.
    """
    app = Flask("invenio_records_files_ext_tests", instance_path=instance_path)
    app.config.update(config)
    # Invenio-Base registers this converter from entry points in full
    # Invenio applications.
    app.url_map.converters["pid"] = PIDConverter
    login_manager = LoginManager(app)
    # Anonymous unless a test installs a request loader (tests/users.py).
    login_manager.user_loader(lambda user_id: None)
    InvenioI18N(app)
    InvenioDB(app)
    InvenioREST(app)
    InvenioRecords(app)
    InvenioPIDStore(app)
    InvenioFilesREST(app)
    InvenioRecordsREST(app)
    InvenioRecordsFiles(app)
    InvenioCelery(app)
    app.register_blueprint(records_blueprint(app))
    app.register_blueprint(files_blueprint(app))
    app.register_blueprint(files_rest_blueprint)
    init_sqlite_app(app, wal=True)
    return app
