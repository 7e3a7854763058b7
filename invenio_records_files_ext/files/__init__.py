"""A record's files: rows per file, their reads, their writer, their views.

Layout, bottom to top:

* ``entries``: the shape of an entry (a dict) and the metadata rules;
* ``queries``: every read of the file rows;
* ``rows``: every write of the file rows;
* ``writer``: file changes (versions, rows, locks, quota) in one place;
* ``bulk``: many files at once (bulk attach, copy);
* ``sync``: rows kept in step with versions changed by other code;
* ``hooks``: wiring of the session listeners;
* ``inline``: ``record["_files"]``, computed from the rows;
* ``reading``: the read half of ``FilesIterator``;
* ``arranging``, ``locking``: two parts of its write half, bases of
  ``FilesIterator``: the files' order, default preview and per-file
  metadata; locking and unlocking;
* ``fileobject``, ``iterator``, ``mixin``: the public faces
  ``FileObject``, ``FilesIterator`` and ``FilesMixin``.

The other modules:

* ``buckets``: A record's buckets: its files and, when it has them, its
  media files;
* ``enabled``: ``files.enabled``: whether a record has files, in
  InvenioRDM's shape;
* ``leases``: Leases of fetching transfers: the worker's heartbeat, and what
  the sweep finds;
* ``multipart``: Multipart uploads into a record's bucket: start, upload
  parts, abort;
* ``owners``: Which record a bucket belongs to, and which REST endpoint
  serves it;
* ``pending``: The life cycle of pending files, in the database: the one
  place that changes it;
* ``pending_rows``: Every read and write of pending files' transfer rows;
* ``transfers``: ``record.files.transfers``: announce files, send their
  bytes, commit them.
"""

from .fileobject import FileObject
from .hooks import register_session_hooks
from .iterator import FilesIterator
from .mixin import FilesMixin

__all__ = ("FileObject", "FilesIterator", "FilesMixin", "register_session_hooks")
