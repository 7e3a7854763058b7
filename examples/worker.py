"""Celery worker of the demo application.

Run it beside the demo when background work goes through a broker::

    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 celery -A examples.worker worker

The worker builds the demo application (same environment: database,
storage) and runs its tasks in it.
"""

from examples.app import create_app

app = create_app()
celery = app.extensions["flask-celeryext"].celery

__all__ = ("app", "celery")
