"""Transfers: how the bytes of an announced (pending) file arrive.

A client announces files first (``POST /records/<pid>/files``, or
``record.files.transfers.init()``), each with a *transfer type*, as
InvenioRDM does:

* ``L`` (local, the default): the client uploads the bytes through the
  application, then commits;
* ``F`` (fetch): the application fetches the bytes from a URL, in the
  background (a Celery task), within limits (:mod:`.fetching`);
* ``R`` (remote): no bytes are stored; the file is a reference to a URL and
  a download redirects there;
* ``M`` (multipart): the client uploads the bytes in parts, one URL per
  part, straight to the storage when it can take them (S3: presigned
  URLs), through the application otherwise (:mod:`.parts`), then commits.

Each type is a provider (:mod:`.registry`) in a module of its own
(:mod:`.local`, :mod:`.fetch`, :mod:`.remote`, :mod:`.multipart`), holding
the schema of its ``transfer`` object, what announcing, committing and
aborting do, what its entry shows and the name of its background job.
What the client announces is checked by schemas (:func:`parse_requests`, :mod:`.schema`).

The other modules:

* ``addresses``: Transfer URLs: parsed, checked and written again from their
  parts;
* ``constants``: Transfer types, transfer states and background jobs, by
  name;
* ``jobs``: What a worker does for pending files: fetch their bytes, verify
  uploads;
* ``launch``: Starting background work once the transaction that asked for
  it commits;
* ``requests``: The URL check of fetch and remote transfers:
  :func:`check_url`;
* ``sockets``: Sockets whose every read keeps to a deadline.
"""

from ..models import REMOTE_STORAGE_CLASS

# The providers register themselves (registry.types() keeps TYPES' order).
from . import fetch, local, multipart, remote  # noqa: F401
from .constants import (
    FAILED,
    FETCH,
    FETCH_JOB,
    FETCHING,
    LOCAL,
    MULTIPART,
    QUEUED,
    RECEIVED,
    REMOTE,
    STATES,
    TYPES,
    VERIFY_JOB,
    VERIFYING,
    WAITING,
)
from .launch import Launcher, launch_after_commit, set_launcher
from .registry import Committed, TransferProvider, TransferRequest, provider
from .requests import check_url, host_allowed
from .schema import parse_request, parse_requests

__all__ = (
    "FAILED",
    "FETCH",
    "FETCH_JOB",
    "FETCHING",
    "LOCAL",
    "MULTIPART",
    "QUEUED",
    "RECEIVED",
    "REMOTE",
    "REMOTE_STORAGE_CLASS",
    "STATES",
    "TYPES",
    "Committed",
    "Launcher",
    "TransferProvider",
    "TransferRequest",
    "VERIFYING",
    "VERIFY_JOB",
    "WAITING",
    "check_url",
    "host_allowed",
    "launch_after_commit",
    "parse_request",
    "parse_requests",
    "provider",
    "set_launcher",
)
