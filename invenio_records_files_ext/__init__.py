"""Records bound to file buckets for Invenio.

A drop-in replacement for ``invenio_records_files``: every record gets a
storage bucket from Invenio-Files-REST, ``record.files`` is a dict-like view
of the bucket's files (one database row per file, shown in the record as
``_files`` and ``_bucket``), and the files are served under the record's
REST routes.
"""

from .ext import InvenioRecordsFiles, register_session_hooks

__version__ = "1.0.0.dev0"

__all__ = ("__version__", "InvenioRecordsFiles", "register_session_hooks")
