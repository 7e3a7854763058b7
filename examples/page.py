"""The demo's deposit page at ``/``: plain HTML, CSS and ES modules.

Nothing is built: the files in ``examples/page/`` are served as they are.
The page talks to the REST routes of the demo (records, files, and the few
routes of :mod:`examples.actions`).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, send_from_directory

PAGE_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "page")
"""Folder of the page's files."""

blueprint = Blueprint(
    "demo_page",
    __name__,
    static_folder=PAGE_FOLDER,
    static_url_path="/page",
)


@blueprint.route("/")
def index() -> Any:
    """Serve the deposit page."""
    response = send_from_directory(PAGE_FOLDER, "index.html", max_age=0)
    # The page's scripts come from this site only; no inline script runs.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return response
