"""Remote transfers (``R``): the file is a reference to a URL.

The file is announced with ``{"type": "R", "url": ...}`` (the host must be
in ``RECORDS_FILES_REMOTE_ALLOWED_HOSTS``) and completed at once: no bytes
are stored, its file instance's URI is the URL (storage class ``R``) and a
download redirects there.
"""

from __future__ import annotations

import uuid
from typing import Any

from invenio_files_rest.models import FileInstance

from ..models import REMOTE_STORAGE_CLASS
from ..storage.checksums import parse_checksum, save_checksums
from .constants import REMOTE
from .registry import TransferProvider, TransferRequest, TransferSchema, register
from .schema import TransferURL

SETTING = "RECORDS_FILES_REMOTE_ALLOWED_HOSTS"
"""The configuration naming the hosts remote files may point to."""


class RemoteSchema(TransferSchema):
    """``{"type": "R", "url": "https://..."}``."""

    url = TransferURL(
        SETTING,
        required=True,
        error_messages={"required": "a R transfer needs a 'url'."},
    )


class RemoteTransfer(TransferProvider):
    """No bytes: a reference to a URL, completed when announced."""

    name = REMOTE
    schema = RemoteSchema
    initial_state = None

    def request(
        self, base: TransferRequest, transfer: dict[str, Any]
    ) -> TransferRequest:
        """Add the target URL."""
        return TransferRequest(**{**base.__dict__, "url": transfer["url"]})

    def announce(self, owner: Any, writer: Any, request: TransferRequest) -> Any:
        """Attach the file at once (one file instance per URL); return it."""
        fileinstance = FileInstance.get_by_uri(request.url)
        stored = fileinstance is not None
        if fileinstance is None:
            fileinstance = FileInstance(
                id=uuid.uuid4(),
                uri=request.url,
                size=request.size or 0,
                storage_class=REMOTE_STORAGE_CLASS,
                readable=False,
                writable=False,
            )
            announced = parse_checksum(request.checksum)
            if announced is not None:
                save_checksums(fileinstance, dict([announced]))
        files = owner.files
        attached = files.writer().attach(
            request.key,
            fileinstance,
            stored_instance=stored,
            metadata=request.metadata,
        )
        return files.after_attach(attached)


PROVIDER = register(RemoteTransfer())
"""The registered provider."""

__all__ = ("PROVIDER", "SETTING", "RemoteSchema", "RemoteTransfer")
