"""What a worker does for pending files: fetch their bytes, verify uploads.

:func:`run` is called by the Celery task
(:mod:`invenio_records_files_ext.tasks.transfers`) with a bucket id and a
key; it finds the record and does the job in short transactions of its
own, so that a long download holds no lock:

* ``fetch``: the transfer goes ``queued`` -> ``fetching`` (committed), the
  bytes are downloaded within the fetch limits
  (:mod:`invenio_records_files_ext.transfers.fetching`) with no transaction
  open, then the file is completed (committed). Any failure deletes the
  bytes written and marks the transfer ``failed`` with a message, except a
  transient one (:class:`~invenio_records_files_ext.errors.TransientTransferError`)
  before the last attempt: the transfer goes back to ``queued`` and the
  error is raised for the task to retry. While bytes come, the worker
  renews its lease on the transfer (:mod:`~invenio_records_files_ext.files.leases`);
* ``verify``: the bytes of a multipart upload sent straight to the storage
  are read once, their size and checksum compared with what the client
  announced, and the file completed, or failed and its bytes deleted.

A job that finds its file gone, or already taken on, does nothing.

:func:`sweep` finds fetches whose worker stopped renewing its lease (a
worker killed mid-fetch) and queues them again, or fails them after
``RECORDS_FILES_FETCH_MAX_ATTEMPTS`` losses.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance

from .. import transfers
from ..errors import (
    ChecksumMismatchError,
    TransferFailedError,
    TransientTransferError,
    describe,
)
from ..files import leases
from ..files import owners as linked
from ..settings.current import current
from ..storage.checksums import (
    announced_algorithms,
    save_checksums,
    stored_checksums,
    verify_announced,
)
from ..storage.hashing import measure_checksums
from ..storage.writes import UploadTarget, discard, stage_file
from . import FETCH_JOB, FETCHING, QUEUED, VERIFY_JOB, VERIFYING
from .fetching import FetchLimits, open_url
from .registry import for_job as provider_for_job

logger = logging.getLogger(__name__)


def _files(bucket_id: Any) -> Optional[Any]:
    link = linked.find(bucket_id, cached=False)
    if link is None or not link.is_files_bucket:
        return None
    return link.record.files


class LeaseLostError(Exception):
    """The worker's lease on a fetch was taken back (by :func:`sweep`)."""


def run(job: str, bucket_id: Any, key: str, last_attempt: bool = True) -> None:
    """Do ``job`` (``fetch`` or ``verify``) for the pending file ``key``.

    It commits its own transactions: call it with a session holding no
    work of yours (a worker's).

    :param last_attempt: ``False`` while the task may still retry: a
        transient fetch failure then queues the transfer again and raises
        :class:`~invenio_records_files_ext.errors.TransientTransferError`.
    """
    files = _files(bucket_id)
    if files is None:
        logger.info(
            "No record files in bucket %s: %s of %r skipped.", bucket_id, job, key
        )
        return
    # The provider whose job it is (an unknown job raises), then its runner.
    _RUNNERS[provider_for_job(job).job or ""](files, key, last_attempt)


def _failed(files: Any, key: str, error: BaseException) -> None:
    db.session.rollback()
    message = describe(error)
    logger.info("Transfer of %r failed: %s", key, message)
    files.transfers.fail(key, message)
    db.session.commit()


def _heartbeat(entry_id: Any, lease: Any, every: float) -> Callable[[int], None]:
    """Return the ``on_read`` callback that renews the lease every ``every`` s."""
    state = {"lease": lease, "at": time.monotonic()}

    def on_read(read_bytes: int) -> None:
        if time.monotonic() - state["at"] < every:
            return
        renewed = leases.renew(entry_id, state["lease"])
        if renewed is None:
            raise LeaseLostError("The fetch was taken back from this worker.")
        state.update(lease=renewed, at=time.monotonic())

    return on_read


def _retry_later(files: Any, key: str, error: TransientTransferError) -> None:
    db.session.rollback()
    logger.info("Fetch of %r will be tried again: %s", key, error.message)
    files.transfers.begin(key, (FETCHING,), QUEUED)
    db.session.commit()


def fetch(files: Any, key: str, last_attempt: bool = True) -> None:
    """Fetch the bytes of a pending fetch transfer and complete it.

    :raises invenio_records_files_ext.errors.TransientTransferError: the
        fetch failed in a way that may pass and ``last_attempt`` is false
        (the transfer is ``queued`` again).
    """
    try:
        found = files.transfers.begin(key, (QUEUED,), FETCHING)
    except Exception as error:
        db.session.rollback()
        logger.info("Fetch of %r not started: %s", key, describe(error))
        return
    target = UploadTarget.of(files.bucket)
    db.session.commit()
    settings = current()
    on_read = _heartbeat(
        found.entry_id, found.updated, settings.transfers.fetch_lease / 4
    )
    fileinstance = None
    try:
        fileinstance = _download(found, target, settings.fetch, on_read)
        files.transfers.finish(key, fileinstance, FETCHING)
        db.session.commit()
    except Exception as error:
        if fileinstance is not None:
            discard(fileinstance.id)
        _give_up(files, key, error, last_attempt)


def _download(
    found: Any, target: UploadTarget, limits: FetchLimits, on_read: Any
) -> FileInstance:
    """Write the fetched bytes into a new file instance, checked against the announce."""
    with open_url(found.details["url"], limits, on_read) as body:
        if None not in (found.size, body.length) and body.length != found.size:
            raise TransferFailedError(
                "The source has {0} bytes; the file was announced with {1} "
                "bytes.".format(body.length, found.size)
            )
        fileinstance = stage_file(
            target,
            body,
            size=found.size,
            algorithms=announced_algorithms(found.checksum),
        )
    try:
        verify_announced(found.checksum, stored_checksums(fileinstance))
    except ChecksumMismatchError as error:
        discard(fileinstance.id)
        raise TransferFailedError(
            "The fetched bytes do not match the announced checksum "
            "(announced {0}, received {1}).".format(error.expected, error.actual)
        ) from error
    return fileinstance


def _give_up(files: Any, key: str, error: Exception, last_attempt: bool) -> None:
    """End a fetch that failed: stop, queue it again (and raise), or fail it."""
    if isinstance(error, LeaseLostError):
        db.session.rollback()
        logger.info("Fetch of %r taken back from this worker: stopped.", key)
    elif isinstance(error, TransientTransferError) and not last_attempt:
        _retry_later(files, key, error)
        raise error
    else:
        _failed(files, key, error)


def sweep(now: Optional[datetime] = None) -> list[str]:
    """Queue again the fetches whose worker stopped (or fail them); commit.

    A fetch whose lease was not renewed for ``RECORDS_FILES_FETCH_LEASE``
    seconds lost its worker (killed, or cut off from the database). It goes
    back to ``queued`` and its task is sent again; after
    ``RECORDS_FILES_FETCH_MAX_ATTEMPTS`` such losses it fails with a
    message saying so.

    :returns: the keys handled, as ``"<bucket id>/<key>"``.
    """
    settings = current().transfers
    lease = settings.fetch_lease
    attempts = settings.fetch_max_attempts
    now = now or datetime.now(tz=timezone.utc)
    handled = []
    for found in leases.expired(now - timedelta(seconds=lease)):
        losses = int(found.details.get("lost", 0)) + 1
        if losses >= attempts:
            files = _files(found.bucket_id)
            if files is None:
                continue
            files.transfers.fail(
                found.key,
                "The worker fetching this file stopped (no news for {0:g} "
                "seconds, {1} time(s)); the fetch failed. Announce the file "
                "again to retry.".format(lease, losses),
            )
        elif leases.take_back(found, json=dict(found.details, lost=losses)):
            transfers.launch_after_commit(FETCH_JOB, found.bucket_id, found.key)
        else:
            continue
        db.session.commit()
        handled.append("{0}/{1}".format(found.bucket_id, found.key))
        logger.info("Fetch of %r lost its worker (%d time(s)).", found.key, losses)
    db.session.commit()
    return handled


def verify(files: Any, key: str) -> None:
    """Checksum a committed direct multipart upload and complete it."""
    try:
        found = files.transfers.get(key)
    except KeyError:
        return
    if found.state != VERIFYING or found.file_id is None:
        return
    try:
        fileinstance = db.session.get(FileInstance, found.file_id)
        measured = measure_checksums(
            fileinstance.storage(), announced_algorithms(found.checksum)
        )
        if found.size is not None and measured.size != found.size:
            raise TransferFailedError(
                "The uploaded parts hold {0} bytes, not the {1} announced.".format(
                    measured.size, found.size
                )
            )
        try:
            verify_announced(found.checksum, measured.checksums)
        except ChecksumMismatchError as error:
            raise TransferFailedError(
                "The uploaded bytes do not match the announced checksum "
                "(announced {0}, received {1}).".format(error.expected, error.actual)
            ) from error
        fileinstance.size = measured.size
        save_checksums(fileinstance, measured.checksums, replace=True)
        fileinstance.readable = True
        fileinstance.writable = False
        files.transfers.finish(key, fileinstance, VERIFYING)
        db.session.commit()
    except Exception as error:
        _failed(files, key, error)


_RUNNERS: dict[str, Callable[[Any, str, bool], None]] = {
    FETCH_JOB: fetch,
    VERIFY_JOB: lambda files, key, last_attempt: verify(files, key),
}
"""What a worker runs for each provider's background job, by job name."""

__all__ = ("LeaseLostError", "fetch", "run", "sweep", "verify")
