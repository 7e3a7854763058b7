"""Demo application: records with files over REST.

Run it with ``./run-demo.sh`` (see README.rst), or::

    pip install -e ".[demo]"
    flask --app examples.app:create_app run

It uses SQLite (``instance/demo.db``) and a local storage folder
(``instance/files``) unless ``SQLALCHEMY_DATABASE_URI`` and
``FILES_STORAGE_PATH`` are set in the environment (``RECORDS_FILES_CHECKSUMS``,
comma-separated, names the checksums kept). Tables and the default
storage location are created on first start. ``GET /records/`` lists the
records from the database, unless ``SEARCH_HOSTS`` names an OpenSearch
cluster (see ``examples/search.py``).

Records REST lives on ``/records/`` and each record's files on
``/records/<pid>/files/`` (media files on ``/records/<pid>/media-files/``,
all files as a zip on ``/records/<pid>/files-archive``); Invenio-Files-REST's own routes on ``/files/``,
where a record's bucket follows the record's permissions and buckets no
record owns stay closed. The deposit page is at ``/`` (see
``examples/page.py``), with the few routes it needs beyond the REST API
under ``/demo/records/<pid>/`` (see ``examples/actions.py``). **Every record
permission is open: this is a demo, never deploy it as is.**
"""

import fcntl
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_login import LoginManager
from invenio_celery import InvenioCelery
from invenio_db import InvenioDB, db
from invenio_files_rest import InvenioFilesREST
from invenio_files_rest.models import Location
from invenio_files_rest.views import blueprint as files_rest_blueprint
from invenio_i18n import InvenioI18N
from invenio_pidstore import InvenioPIDStore
from invenio_records import InvenioRecords
from invenio_records_rest import InvenioRecordsREST
from invenio_records_rest.utils import PIDConverter, allow_all, deny_all
from invenio_records_rest.views import create_blueprint_from_app as records_blueprint
from invenio_rest import InvenioREST
from sqlalchemy import inspect

from examples import actions, page, search
from invenio_records_files_ext import InvenioRecordsFiles
from invenio_records_files_ext.db.sqlite import init_sqlite_app
from invenio_records_files_ext.rest.errors import register_app_error_handlers
from invenio_records_files_ext.views import create_blueprint_from_app as files_blueprint

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_INSTANCE = os.path.join(os.path.dirname(HERE), "instance")

RECORD_CLASS = "invenio_records_files_ext.api:Record"


def _engine_options(uri: str) -> dict[str, Any]:
    # Check pooled connections before use, so that a request after a
    # database restart reconnects instead of failing.
    options: dict[str, Any] = {"pool_pre_ping": True}
    if uri.startswith("postgresql"):
        # What Invenio-DB sets when the application sets nothing.
        options["connect_args"] = {"options": "-c timezone=UTC"}
    return options


def demo_config(instance_path: str) -> dict[str, Any]:
    """Return the demo's configuration (environment overrides included)."""
    uri = os.environ.get(
        "SQLALCHEMY_DATABASE_URI",
        "sqlite:///" + os.path.join(instance_path, "demo.db"),
    )
    return dict(
        SECRET_KEY="demo-only-not-secret",
        SQLALCHEMY_DATABASE_URI=uri,
        FILES_STORAGE_PATH=os.environ.get(
            "FILES_STORAGE_PATH", os.path.join(instance_path, "files")
        ),
        # Comma-separated, e.g. "md5,sha256" (see RECORDS_FILES_CHECKSUMS).
        RECORDS_FILES_CHECKSUMS=os.environ.get("RECORDS_FILES_CHECKSUMS", "md5").split(
            ","
        ),
        # Buckets linked to a record follow the record's permissions
        # whatever this says; it decides for the other buckets: none.
        FILES_REST_PERMISSION_FACTORY=deny_all,
        # Local storage that hashes while it writes: faster uploads.
        FILES_REST_STORAGE_FACTORY=(
            "invenio_records_files_ext.storage.writes:pyfs_storage_factory"
        ),
        FILES_REST_OBJECT_KEY_MAX_LEN=1024,
        # Each record's files may hold up to 10 GB, InvenioRDM's default.
        RECORDS_FILES_BUCKET_QUOTA_SIZE=10 * 10**9,
        FILES_REST_TASK_WAIT_INTERVAL=0.1,
        RECORDS_REST_DEFAULT_CREATE_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_DEFAULT_READ_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_DEFAULT_UPDATE_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_DEFAULT_DELETE_PERMISSION_FACTORY=allow_all,
        RECORDS_REST_ENDPOINTS=dict(
            recid=dict(
                pid_type="recid",
                pid_minter="recid",
                pid_fetcher="recid",
                record_class=RECORD_CLASS,
                # The list route reads the database, unless SEARCH_HOSTS
                # names a search cluster (see examples/search.py).
                **search.endpoint_options(),
                list_route="/records/",
                item_route='/records/<pid(recid,record_class="{0}"):pid_value>'.format(
                    RECORD_CLASS
                ),
                record_serializers={
                    "application/json": (
                        "invenio_records_rest.serializers:json_v1_response"
                    ),
                },
                search_serializers={
                    "application/json": "invenio_records_rest.serializers:json_v1_search",
                },
                links_factory_imp=(
                    "invenio_records_files_ext.links:default_record_files_links_factory"
                ),
                default_media_type="application/json",
            ),
        ),
        RECORDS_FILES_REST_ENDPOINTS={"RECORDS_REST_ENDPOINTS": {"recid": "/files"}},
        # Background work (fetch transfers) runs in the request unless a
        # broker is named: CELERY_BROKER_URL=redis://... and a worker
        # (``celery -A examples.worker worker``).
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "memory://"),
        # Invenio-Celery's older name of the same setting wins when set.
        BROKER_URL=os.environ.get("CELERY_BROKER_URL", "memory://"),
        CELERY_RESULT_BACKEND=None,
        CELERY_TASK_ALWAYS_EAGER="CELERY_BROKER_URL" not in os.environ,
        CELERY_TASK_EAGER_PROPAGATES=False,
        RECORDS_FILES_REST_MEDIA_ENDPOINTS={
            "RECORDS_REST_ENDPOINTS": {"recid": "/media-files"}
        },
    )


def _initialise_storage(app: Flask) -> None:
    """Create tables and the default location, once, whatever the workers."""
    os.makedirs(app.instance_path, exist_ok=True)
    with open(os.path.join(app.instance_path, ".init.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with app.app_context():
            if not inspect(db.engine).has_table("records_buckets"):
                db.create_all()
            if Location.get_default() is None:
                os.makedirs(app.config["FILES_STORAGE_PATH"], exist_ok=True)
                db.session.add(
                    Location(
                        name="default",
                        uri=app.config["FILES_STORAGE_PATH"],
                        default=True,
                    )
                )
                db.session.commit()
            # No connection may outlive the set-up: with ``gunicorn
            # --preload`` the workers fork after it and must not share one.
            db.session.remove()
            db.engine.dispose()


def create_app(
    config: "Mapping[str, Any] | None" = None, instance_path: "str | None" = None
) -> Flask:
    """Create the demo application.

    :param config: configuration overriding the demo's.
    :param instance_path: folder of the SQLite database and storage
        (default: ``DEMO_INSTANCE_PATH`` or ``./instance``).
    """
    instance_path = instance_path or os.environ.get(
        "DEMO_INSTANCE_PATH", DEFAULT_INSTANCE
    )
    app = Flask("invenio_records_files_ext_demo", instance_path=instance_path)
    app.config.update(demo_config(instance_path))
    app.config.update(config or {})
    if config is not None and "CELERY_BROKER_URL" in config:
        app.config["BROKER_URL"] = config["CELERY_BROKER_URL"]
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        _engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
    )

    # Invenio-Base registers this converter from entry points in full
    # Invenio applications; this small app does it by hand.
    app.url_map.converters["pid"] = PIDConverter
    login_manager = LoginManager(app)
    # Nobody logs in to the demo: every request is anonymous.
    login_manager.user_loader(lambda user_id: None)
    InvenioI18N(app)
    InvenioDB(app)
    InvenioREST(app)
    InvenioRecords(app)
    InvenioPIDStore(app)
    InvenioFilesREST(app)
    InvenioRecordsREST(app)
    search.init_search(app)
    InvenioCelery(app)
    InvenioRecordsFiles(app)
    app.register_blueprint(records_blueprint(app))
    app.register_blueprint(files_blueprint(app))
    app.register_blueprint(files_rest_blueprint)
    app.register_blueprint(page.blueprint)
    app.register_blueprint(actions.blueprint)
    # Every error of every route in one JSON format (Invenio-REST's own
    # handlers order the members of some errors differently).
    register_app_error_handlers(app)

    # SQLite: savepoints that work, and writers that wait their turn.
    init_sqlite_app(app, wal=True)
    _initialise_storage(app)
    return app
