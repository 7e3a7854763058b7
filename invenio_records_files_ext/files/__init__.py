"""A record's files: rows per file, their reads, their writer, their views.

Layout, bottom to top:

* :mod:`.entries`: the shape of an entry (a dict) and the metadata rules;
* :mod:`.queries`: every read of the file rows;
* :mod:`.rows`: every write of the file rows;
* :mod:`.writer`: file changes (versions, rows, locks, quota) in one place;
* :mod:`.bulk`: many files at once (bulk attach, copy);
* :mod:`.sync`: rows kept in step with versions changed by other code;
* :mod:`.hooks`: wiring of the session listeners;
* :mod:`.inline`: ``record["_files"]``, computed from the rows;
* :mod:`.fileobject`, :mod:`.iterator`, :mod:`.mixin`: the public faces
  ``FileObject``, ``FilesIterator`` and ``FilesMixin``.
"""

from .fileobject import FileObject
from .hooks import register_session_hooks
from .iterator import FilesIterator
from .mixin import FilesMixin

__all__ = ("FileObject", "FilesIterator", "FilesMixin", "register_session_hooks")
