"""Celery tasks (the ``invenio_celery.tasks`` entry point loads this package).

Importing the package registers every task module with Celery:

* :mod:`.transfers`: fetching files announced with a fetch transfer;
* :mod:`.embargo`: lifting embargoes whose day has come;
* :mod:`.fixity`: the fixity audit (reading stored bytes back on a schedule).
"""

from . import embargo, fixity, transfers

__all__ = ("embargo", "fixity", "transfers")
