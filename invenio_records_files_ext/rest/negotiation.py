"""What a ``GET`` of one file's route answers: its bytes or its entry.

InvenioRDM's files resource answers ``GET <files route>/<key>`` with the
file's entry (JSON metadata) and serves the bytes on ``.../content``;
invenio-records-files served the bytes on ``<files route>/<key>``. Both
kinds of clients are served: a request whose ``Accept`` header asks for
``application/json`` and names no wildcard gets the entry; a plain
download (no ``Accept``, ``*/*``, a browser's ``text/html,...,*/*;q=0.8``,
a file's own MIME type) gets the bytes, as before. Query arguments
(``?versionId=``, ``?download``, ``?uploadId=``...) keep their
Invenio-Files-REST meaning: bytes or their own JSON.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
WILDCARDS = ("*/*", "application/*")


def wants_entry(request: Any) -> bool:
    """Tell whether a ``GET`` (or ``HEAD``) of a file asks for its entry."""
    if request.args or "Accept" not in request.headers:
        return False
    named = {value.lower(): quality for value, quality in request.accept_mimetypes}
    if any(named.get(wildcard) for wildcard in WILDCARDS):
        return False
    return bool(named.get(JSON))


__all__ = ("JSON", "WILDCARDS", "wants_entry")
