"""Records bound to file buckets for Invenio.

A drop-in replacement for ``invenio_records_files``: every record gets a
storage bucket from Invenio-Files-REST, ``record.files`` is a dict-like view
of the bucket's files (one database row per file, shown in the record as
``_files`` and ``_bucket``), and the files are served under the record's
REST routes.

At the root, the faces: ``api``, ``config``, ``errors``, ``ext``, ``links``,
``models``, ``serializer``, ``signals``, ``utils``, ``views`` (the paths of
``invenio_records_files``); the rest lives in rooms, each with its map:

* ``settings/``: The configuration read as one typed tree (below every
  room: it imports ``config`` and ``errors`` only);
* ``db/``: The database floor: the transaction ledger, atomic steps, locks,
  versions, file keys and SQL helpers;
* ``storage/``: The bytes: written durably through the storage, read back,
  and their checksums;
* ``transfers/``: Transfers: how the bytes of an announced (pending) file
  arrive;
* ``files/``: A record's files: rows per file, their reads, their writer,
  their views;
* ``records/``: What happens to all of a record's files at once: life cycle,
  imports, dumps;
* ``access/``: Who may read a record's files, and what readers see;
* ``archives/``: Zip files: a record's files as one archive or bag, and
  browsing inside zip files;
* ``streams/``: Request and response bodies of the files routes, on any WSGI
  server;
* ``rest/``: The REST layer: the files routes of records, and
  Invenio-Files-REST's own;
* ``processors/``: Metadata extracted from a file when it is completed;
* ``maintenance/``: Maintenance of records' files outside requests;
* ``tasks/``: Celery tasks (the ``invenio_celery.tasks`` entry point loads
  this package);
* ``cli/``: ``flask records-files``: maintenance commands for records'
  files.
"""

# files/ first: files/__init__ must run before transfers/__init__
# (files.pending imports transfers/, transfers.requests imports
# files.entries; only this order works).
from . import files  # noqa: F401
from .ext import InvenioRecordsFiles, register_session_hooks

__version__ = "1.0.0.dev0"

__all__ = ("__version__", "InvenioRecordsFiles", "register_session_hooks")
