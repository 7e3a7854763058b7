"""Fetch transfers (``F``): the application fetches the bytes from a URL.

The file is announced with ``{"type": "F", "url": ...}`` (the host must be
in ``RECORDS_FILES_FETCH_ALLOWED_HOSTS``); once the announce commits, the
``fetch`` job (:func:`invenio_records_files_ext.transfers.jobs.fetch`, a Celery task)
downloads the bytes within the fetch limits in short transactions of its
own and completes the file, or fails it with a message. The client does not
commit it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import TransferStateError
from .constants import FETCH, FETCH_JOB, QUEUED
from .launch import launch_after_commit
from .registry import (
    Committed,
    TransferProvider,
    TransferRequest,
    TransferSchema,
    register,
)
from .schema import TransferURL

logger = logging.getLogger(__name__)

SETTING = "RECORDS_FILES_FETCH_ALLOWED_HOSTS"
"""The configuration naming the hosts files may be fetched from."""


class FetchSchema(TransferSchema):
    """``{"type": "F", "url": "https://..."}``."""

    url = TransferURL(
        SETTING,
        required=True,
        error_messages={"required": "a F transfer needs a 'url'."},
    )


class FetchTransfer(TransferProvider):
    """The application fetches the bytes, in the background."""

    name = FETCH
    schema = FetchSchema
    initial_state = QUEUED
    job = FETCH_JOB

    def request(
        self, base: TransferRequest, transfer: dict[str, Any]
    ) -> TransferRequest:
        """Add the source URL."""
        return TransferRequest(**{**base.__dict__, "url": transfer["url"]})

    def details(self, request: TransferRequest) -> dict[str, Any]:
        """Keep the source URL."""
        return {"url": request.url}

    def announce(self, owner: Any, writer: Any, request: TransferRequest) -> Any:
        """Start the fetch once the announce commits."""
        launch_after_commit(FETCH_JOB, owner.bucket.id, request.key)
        return None

    def commit(self, owner: Any, found: Any) -> Committed:
        """Refuse: the application completes a fetched file itself."""
        raise TransferStateError(
            "The file {0!r} is fetched by the application, which completes it "
            "itself (state {1!r}).".format(found.key, found.state)
        )


PROVIDER = register(FetchTransfer())
"""The registered provider."""

__all__ = ("PROVIDER", "SETTING", "FetchSchema", "FetchTransfer")
