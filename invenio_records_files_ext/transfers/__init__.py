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

This module parses and checks what the client announces
(:func:`parse_requests`); it touches no database.
"""

from ..models import REMOTE_STORAGE_CLASS
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
from .requests import (
    TransferRequest,
    check_url,
    host_allowed,
    parse_request,
    parse_requests,
)

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
    "Launcher",
    "TransferRequest",
    "VERIFYING",
    "VERIFY_JOB",
    "WAITING",
    "check_url",
    "host_allowed",
    "launch_after_commit",
    "parse_request",
    "parse_requests",
    "set_launcher",
)
