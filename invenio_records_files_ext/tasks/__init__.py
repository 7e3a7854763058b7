"""Celery tasks of invenio-records-files-ext (``invenio_celery.tasks`` entry point).

Importing the package registers every task module with Celery.
"""

from . import transfers

__all__ = ("transfers",)
