"""Celery tasks (the ``invenio_celery.tasks`` entry point loads this package).

* :mod:`.embargo`: lifting embargoes whose day has come.
"""

from . import embargo

__all__ = ("embargo",)
