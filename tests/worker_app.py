"""The Celery worker of the real-worker tests: the demo app, configured by env.

``RFX_WORKER_CONFIG`` holds the configuration as JSON (database URI, broker
URL, fetch limits); ``RFX_WORKER_INSTANCE`` the instance folder. A
configuration naming invenio-s3's storage factory gets invenio-s3 too.
"""

import json
import os

from invenio_s3 import InvenioS3

from examples.app import create_app

config = json.loads(os.environ.get("RFX_WORKER_CONFIG", "{}"))
app = create_app(config, instance_path=os.environ["RFX_WORKER_INSTANCE"])
if str(config.get("FILES_REST_STORAGE_FACTORY", "")).startswith("invenio_s3"):
    InvenioS3(app)
celery = app.extensions["flask-celeryext"].celery
