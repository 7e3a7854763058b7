"""The Celery worker of ``benchmarks/transfers.py`` (same application, same env)."""

from benchmarks.transfers import create_bench_app

app = create_bench_app()
celery = app.extensions["flask-celeryext"].celery
