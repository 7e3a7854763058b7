"""Hooks: blinker signals sent at each step of a record's file life cycle.

Every signal is sent with the Flask application as sender and keyword
arguments described below. It is sent *inside* the step, after the change
has been applied to the database session and to ``record['_files']`` but
before the step returns. A receiver that raises aborts the step: the
database changes of the step are rolled back (a savepoint), the record's
in-memory ``_files`` is restored, bytes written by the step are removed, and
the receiver's exception reaches the caller unchanged.

Receivers run in the caller's transaction: they may add their own changes
to the session, which are committed or rolled back with the step.

Connect with ``signal.connect(receiver)``; a receiver is called as
``receiver(app, **kwargs)``. Files are passed as
:class:`~invenio_records_files_ext.api.FileObject` instances; files that
are gone (``previous``) as plain entries (:class:`dict`), since their object
version may no longer be the current one, or exist at all, by the time the
receiver looks.
"""

from blinker import Namespace

_signals = Namespace()

file_added = _signals.signal("records-files-file-added")
"""A new key was attached. Arguments: ``record``, ``file`` (the
:class:`~invenio_records_files_ext.api.FileObject`)."""

file_replaced = _signals.signal("records-files-file-replaced")
"""An existing key got a new version. Arguments: ``record``, ``file`` (the
new version) and ``previous``: the previous entry of the file, a
:class:`dict` as in ``record["_files"]`` (``bucket``, ``checksum``,
``file_id``, ``key``, ``mimetype``, ``size``, ``version_id`` of the
replaced version, plus its per-file metadata). Sent for every replaced key,
by ``files.update()`` too."""

file_deleted = _signals.signal("records-files-file-deleted")
"""A key was removed. Arguments: ``record``, ``key`` and ``previous``: the
previous entry of the file, a :class:`dict` as for :data:`file_replaced`
(the removed version's fields plus its per-file metadata)."""

file_renamed = _signals.signal("records-files-file-renamed")
"""A key was renamed. Arguments: ``record``, ``file`` (under its new key),
``old_key`` and ``new_key``."""

files_locked = _signals.signal("records-files-locked")
"""The record's bucket was locked. Arguments: ``record``."""

files_unlocked = _signals.signal("records-files-unlocked")
"""The record's bucket was unlocked. Arguments: ``record``."""

files_copied = _signals.signal("records-files-copied")
"""Files of another record were imported. Arguments: ``record`` (the
destination), ``source`` (the source record) and ``keys`` (the imported
keys, in order)."""

files_soft_deleted = _signals.signal("records-files-soft-deleted")
"""The record was soft-deleted and its files locked. Arguments:
``record``."""

files_restored = _signals.signal("records-files-restored")
"""A soft-deleted record was restored. Arguments: ``record``."""

files_purged = _signals.signal("records-files-purged")
"""The record's bucket is being removed. Arguments: ``record``,
``bucket_id`` and ``file_ids`` (the file instances whose bytes will be
deleted from storage once the transaction commits, because no other bucket
uses them)."""

embargo_lifted = _signals.signal("records-files-embargo-lifted")
"""A record's embargo was lifted: its files (and the record, if it was
restricted) are public. Arguments: ``record`` (stored with the change) and
``embargo`` (the :class:`~invenio_records_files_ext.access.restrictions.Embargo`
as it was). A receiver that raises leaves the embargo in place."""

file_processed = _signals.signal("records-files-file-processed")
"""Metadata was extracted from a completed file. Arguments: ``record``,
``file`` (the :class:`~invenio_records_files_ext.api.FileObject`) and
``extracted`` (what the processors stored, errors included)."""

fixity_failed = _signals.signal("records-files-fixity-failed")
"""The fixity audit found a stored file whose bytes do not match its
checksums or size, or could not be read
(:mod:`invenio_records_files_ext.maintenance.fixity`). Arguments:
``outcome``, a :class:`~invenio_records_files_ext.maintenance.fixity.Outcome`
(``file_id``, ``uri``, ``status``: ``"mismatch"`` or ``"unreadable"``,
``description``). Unlike the signals above it is sent *after* the result
is committed (Files-REST's ``last_check``), outside any step: a receiver
that raises is logged and the audit goes on."""

__all__ = (
    "embargo_lifted",
    "fixity_failed",
    "file_processed",
    "file_added",
    "file_deleted",
    "file_renamed",
    "file_replaced",
    "files_copied",
    "files_locked",
    "files_purged",
    "files_restored",
    "files_soft_deleted",
    "files_unlocked",
)
