"""Fetch transfers (``F``): the application fetches the bytes from a URL.

The file is announced with ``{"type": "F", "url": ...}`` (the host must be
in ``RECORDS_FILES_FETCH_ALLOWED_HOSTS``); once the announce commits, the
``fetch`` job (a Celery task) downloads the bytes within the fetch limits
(:mod:`.fetching`) in short transactions of its own and completes the file,
or fails it with a message. The client does not commit it.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from invenio_db import db
from marshmallow import fields, validates

from ..errors import TransferFailedError, TransferStateError, describe
from ..storage import UploadTarget, discard, stage_file
from .constants import FETCH, FETCH_JOB, FETCHING, QUEUED
from .fetching import FetchLimits, open_url
from .launch import launch_after_commit
from .registry import (
    Committed,
    TransferProvider,
    TransferRequest,
    TransferSchema,
    fail_job,
    register,
)
from .schema import check_transfer_url

logger = logging.getLogger(__name__)

SETTING = "RECORDS_FILES_FETCH_ALLOWED_HOSTS"
"""The configuration naming the hosts files may be fetched from."""


class FetchSchema(TransferSchema):
    """``{"type": "F", "url": "https://..."}``."""

    url = fields.Raw(
        required=True, error_messages={"required": "a F transfer needs a 'url'."}
    )

    @validates("url")
    def check_url(self, value: Any, **kwargs: Any) -> None:
        """Refuse URLs that are not http(s) or whose host is not allowed."""
        check_transfer_url(value, SETTING)


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

    def run_job(self, files: Any, key: str) -> None:
        """Fetch the bytes of a pending fetch transfer and complete it."""
        fetch(files, key)


def fetch(files: Any, key: str) -> None:
    """Fetch the bytes of the pending file ``key`` and complete it.

    The transfer goes ``queued`` -> ``fetching`` (committed), the bytes are
    downloaded with no transaction open, then the file is completed
    (committed). Any failure deletes the bytes written and marks the
    transfer ``failed`` with a message. A file gone, or already taken on,
    is left alone.
    """
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
            fileinstance = stage_file(target, body, size=found.size)
        if found.checksum and fileinstance.checksum != found.checksum:
            raise TransferFailedError(
                "The fetched bytes do not match the announced checksum "
                "(announced {0}, received {1}).".format(
                    found.checksum, fileinstance.checksum
                )
            )
        files.transfers.finish(key, fileinstance, FETCHING)
        db.session.commit()
    except Exception as error:
        if fileinstance is not None:
            discard(fileinstance.id)
        fail_job(files, key, error)


PROVIDER = register(FetchTransfer())
"""The registered provider."""

__all__ = ("PROVIDER", "SETTING", "FetchSchema", "FetchTransfer", "fetch")
