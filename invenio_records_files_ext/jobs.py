"""What a worker does for pending files: the job of their transfer type.

:func:`run` is called by the Celery task
(:mod:`invenio_records_files_ext.tasks.transfers`) with a job name, a
bucket id and a key; it finds the record and hands the file to the
transfer provider whose job it is (:mod:`invenio_records_files_ext.transfers.registry`),
which works in short transactions of its own, so that a long download
holds no lock:

* ``fetch`` (:func:`invenio_records_files_ext.transfers.fetch.fetch`): the
  bytes of a fetch transfer are downloaded within the fetch limits and the
  file completed, or failed with a message;
* ``verify`` (:func:`invenio_records_files_ext.transfers.multipart.verify`):
  the bytes of a multipart upload sent straight to the storage are read
  once, their size and checksum compared with what the client announced,
  and the file completed, or failed and its bytes deleted.

A job that finds its file gone, or already taken on, does nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from . import linked
from .transfers import registry
from .transfers.fetch import fetch
from .transfers.multipart import verify

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

    :raises invenio_records_files_ext.errors.ConfigurationError: no
        transfer type has this job.
    """
    provider = registry.for_job(job)
    files = _files(bucket_id)
    if files is None:
        logger.info(
            "No record files in bucket %s: %s of %r skipped.", bucket_id, job, key
        )
        return
    provider.run_job(files, key)


__all__ = ("fetch", "run", "verify")
