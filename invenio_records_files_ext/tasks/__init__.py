"""Celery tasks (the ``invenio_celery.tasks`` entry point loads this package).

Importing the package registers every task module with Celery:

* :mod:`.transfers`: fetching files announced with a fetch transfer;
* :mod:`.embargo`: lifting embargoes whose day has come.
"""

from . import embargo, transfers

__all__ = ("embargo", "transfers")
