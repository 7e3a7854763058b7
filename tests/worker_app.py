"""The Celery worker of the real-worker tests: the demo app, configured by env.

``RFX_WORKER_CONFIG`` holds the configuration as JSON (database URI, broker
URL, fetch limits); ``RFX_WORKER_INSTANCE`` the instance folder.
"""

import json
import os

from examples.app import create_app

app = create_app(
    json.loads(os.environ.get("RFX_WORKER_CONFIG", "{}")),
    instance_path=os.environ["RFX_WORKER_INSTANCE"],
)
celery = app.extensions["flask-celeryext"].celery
