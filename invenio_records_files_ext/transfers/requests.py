"""The URL check of fetch and remote transfers: :func:`check_url`.

The schemas of :mod:`~invenio_records_files_ext.transfers.fetch` and
:mod:`~invenio_records_files_ext.transfers.remote` call it for the
announced URL; the parsing, re-serialising and host checks are
:mod:`~invenio_records_files_ext.transfers.addresses`'.
"""

from __future__ import annotations

from typing import Any

from .addresses import check_transfer_url, host_allowed


def check_url(url: Any, allowed: Any, setting: str) -> str:
    """Check a transfer URL and its host (:func:`~.addresses.check_transfer_url`).

    :returns: the URL written again from its checked parts: store this one.
    :raises invenio_records_files_ext.errors.InvalidTransferError: refused.
    """
    return check_transfer_url(url, allowed, setting).url


__all__ = ("check_url", "host_allowed")
