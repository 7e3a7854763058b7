"""What a worker does for pending files: fetch their bytes, verify uploads.

:func:`run` is called by the Celery task
(:mod:`invenio_records_files_ext.tasks.transfers`) with a bucket id and a
key; it finds the record and does the job in short transactions of its
own, so that a long download holds no lock:

* ``fetch``: the transfer goes ``queued`` -> ``fetching`` (committed), the
  bytes are downloaded within the fetch limits
  (:mod:`invenio_records_files_ext.transfers.fetching`) with no transaction
  open, then the file is completed (committed). Any failure deletes the
  bytes written and marks the transfer ``failed`` with a message;
* ``verify``: the bytes of a multipart upload sent straight to the storage
  are read once, their size and checksum compared with what the client
  announced, and the file completed, or failed and its bytes deleted.

A job that finds its file gone, or already taken on, does nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from flask import current_app
from invenio_db import db
from invenio_files_rest.models import FileInstance

from . import linked
from .checksums import (
    announced_algorithms,
    save_checksums,
    stored_checksums,
    verify_announced,
)
from .errors import (
    ChecksumMismatchError,
    ConfigurationError,
    TransferFailedError,
    describe,
)
from .hashing import measure_checksums
from .storage import UploadTarget, discard, stage_file
from .transfers import FETCH_JOB, FETCHING, QUEUED, VERIFY_JOB, VERIFYING
from .transfers.fetching import FetchLimits, open_url

logger = logging.getLogger(__name__)


def _files(bucket_id: Any) -> Optional[Any]:
    link = linked.find(bucket_id, cached=False)
    if link is None or not link.is_files_bucket:
        return None
    return link.record.files


def run(job: str, bucket_id: Any, key: str) -> None:
    """Do ``job`` (``fetch`` or ``verify``) for the pending file ``key``.

    It commits its own transactions: call it with a session holding no
    work of yours (a worker's).
    """
    files = _files(bucket_id)
    if files is None:
        logger.info(
            "No record files in bucket %s: %s of %r skipped.", bucket_id, job, key
        )
        return
    if job == FETCH_JOB:
        fetch(files, key)
    elif job == VERIFY_JOB:
        verify(files, key)
    else:
        raise ConfigurationError("Unknown transfer job {0!r}.".format(job))


def _failed(files: Any, key: str, error: BaseException) -> None:
    db.session.rollback()
    message = describe(error)
    logger.info("Transfer of %r failed: %s", key, message)
    files.transfers.fail(key, message)
    db.session.commit()


def fetch(files: Any, key: str) -> None:
    """Fetch the bytes of a pending fetch transfer and complete it."""
    try:
        found = files.transfers.begin(key, (QUEUED,), FETCHING)
    except Exception as error:
        db.session.rollback()
        logger.info("Fetch of %r not started: %s", key, describe(error))
        return
    target = UploadTarget.of(files.bucket)
    db.session.commit()
    fileinstance = None
    try:
        limits = FetchLimits.from_config(current_app.config)
        with open_url(found.details["url"], limits) as body:
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
            raise TransferFailedError(
                "The fetched bytes do not match the announced checksum "
                "(announced {0}, received {1}).".format(error.expected, error.actual)
            ) from error
        files.transfers.finish(key, fileinstance, FETCHING)
        db.session.commit()
    except Exception as error:
        if fileinstance is not None:
            discard(fileinstance.id)
        _failed(files, key, error)


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


__all__ = ("fetch", "run", "verify")
