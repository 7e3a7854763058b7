"""The application of ``benchmarks/transfers.py``, for gunicorn and Celery.

The demo with Invenio-S3, its default location in the run's S3 bucket;
configured by ``RFX_BENCH_CONFIG`` (JSON) and ``RFX_BENCH_S3_BUCKET``.
"""

import json
import os
from typing import Any

from flask import Flask


def create_bench_app() -> Flask:
    """The demo application storing its files in the S3 bucket of the run."""
    from invenio_db import db
    from invenio_files_rest.models import Location
    from invenio_s3 import InvenioS3

    from examples.app import create_app

    app: Flask = create_app(json.loads(os.environ["RFX_BENCH_CONFIG"]))
    InvenioS3(app)
    with app.app_context():
        location, uri = (
            Location.get_default(),
            "s3://" + os.environ["RFX_BENCH_S3_BUCKET"],
        )
        if location.uri != uri:  # once: the Celery worker must not write
            location.uri = uri
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return app


def __getattr__(name: str) -> Any:
    """``celery``, for ``celery -A benchmarks.transfers_app:celery worker``."""
    if name != "celery":
        raise AttributeError(name)
    return create_bench_app().extensions["flask-celeryext"].celery
