"""Link factories for records with files.

Use :func:`default_record_files_links_factory` as ``links_factory_imp`` of
a records REST endpoint to add a ``files`` link to the record's JSON.
Links start with the site's ``SITE_API_URL`` when it is set.
"""

from __future__ import annotations

from typing import Any, Optional, Union, cast

from flask import current_app
from invenio_records_rest.proxies import current_records_rest
from werkzeug.routing import BuildError

from .rest.urls import api_url
from .serializer import BLUEPRINT_NAME


def _endpoint_prefix(pid: Any) -> Optional[str]:
    return cast(
        Optional[str], current_records_rest.default_endpoint_prefixes.get(pid.pid_type)
    )


def default_bucket_link_factory(pid: Any) -> Optional[str]:
    """Return the URL of the files of the record ``pid`` points to.

    The record's files route when it is configured, else Invenio-Files-REST's
    bucket route, else ``None`` (also for ``pid=None``).
    """
    if pid is None:
        return None
    prefix = _endpoint_prefix(pid)
    endpoint = "{0}.{1}_bucket_api".format(BLUEPRINT_NAME, prefix)
    if prefix and endpoint in current_app.view_functions:
        return api_url(endpoint, pid_value=pid.pid_value)
    from .api import Record

    try:
        record = Record.get_record(pid.get_assigned_object())
    except Exception:
        return None
    bucket = record.bucket
    if bucket is None:
        return None
    try:
        return api_url("invenio_files_rest.bucket_api", bucket_id=str(bucket.id))
    except BuildError:
        return None


def moved_files_url(
    destination_pid: Any,
    key: Optional[str] = None,
    query_string: Union[bytes, str] = b"",
    view: Optional[str] = None,
    endpoint_prefix: Optional[str] = None,
    **route_values: Any,
) -> str:
    """Return the URL of the same files route under the PID a PID moved to.

    :param destination_pid: the PID the requested one redirects to.
    :param key: the file key, for the route of one file.
    :param query_string: the request's query string, kept as it is.
    :param view: the route's view name after the endpoint's prefix
        (default: ``bucket_api``, or ``object_api`` with a key), such as
        ``media_object_api`` or ``container_api``; ``route_values`` are the
        route's other values.
    :param endpoint_prefix: the records REST endpoint whose route to build
        (default: the default endpoint of the destination's PID type).
    :raises werkzeug.routing.BuildError: the destination's endpoint has no
        such route.
    """
    prefix = endpoint_prefix or _endpoint_prefix(destination_pid)
    if not prefix:
        raise BuildError(
            "{0}.<{1}>".format(BLUEPRINT_NAME, destination_pid.pid_type), {}, None
        )
    values = dict(route_values, pid_value=destination_pid.pid_value)
    if key is not None:
        values["key"] = key
    if view is None:
        view = "bucket_api" if key is None else "object_api"
    endpoint = "{0}.{1}_{2}".format(BLUEPRINT_NAME, prefix, view)
    url = api_url(endpoint, **values)
    if query_string:
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        url = "{0}?{1}".format(url, query_string)
    return url


def default_record_files_links_factory(
    pid: Any, record: Any = None, **kwargs: Any
) -> dict[str, str]:
    """Return the record's ``self`` link plus its ``files`` link.

    :param pid: a persistent identifier instance.
    :returns: dictionary of links.
    """
    links: dict[str, str] = {}
    prefix = _endpoint_prefix(pid)
    try:
        links["self"] = api_url(
            "invenio_records_rest.{0}_item".format(prefix), pid_value=pid.pid_value
        )
    except BuildError:
        pass
    files = default_bucket_link_factory(pid)
    if files:
        links["files"] = files
    return links
