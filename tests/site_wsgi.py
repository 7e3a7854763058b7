"""WSGI application of the test site: Invenio-App's API mounted under ``/api``.

A site's proxy sends ``/api`` to the API application; this does the same
for gunicorn in the tests. The instance folder and database come from the
``INVENIO_*`` environment (see :class:`tests.site.Site`).
"""

from invenio_app.factory import create_api
from invenio_db import db
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from invenio_records_files_ext.db.sqlite import enable_sqlite_savepoints

api = create_api()
with api.app_context():
    enable_sqlite_savepoints(db.engine, wal=True)
    # Workers fork after this (gunicorn --preload): share no connection.
    db.session.remove()
    db.engine.dispose()

application = DispatcherMiddleware(NotFound(), {"/api": api})
