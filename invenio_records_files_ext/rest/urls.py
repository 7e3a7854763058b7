"""Absolute URLs of the API, at the address the site says it has.

Behind a proxy the host a request names is not always the site's public
address. Invenio-App states it in ``SITE_API_URL`` (for instance
``https://example.org/api``), and the links this package writes into JSON
start with it. Applications that do not set it get Flask's ``url_for``
with the request's scheme and host.
"""

from __future__ import annotations

from typing import Any, Optional

from flask import current_app, url_for


def api_url(endpoint: str, **values: Any) -> str:
    """Return the absolute URL of ``endpoint`` with ``values``.

    Values that are not route arguments become the query string.
    """
    base: Optional[str] = current_app.config.get("SITE_API_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)
    # The path below the API's root, whatever mount point the request
    # came through: the site's URL already ends with that root.
    path = current_app.url_map.bind("").build(endpoint, values)
    return base.rstrip("/") + path


__all__ = ("api_url",)
