"""The files blueprint, built from ``RECORDS_FILES_REST_ENDPOINTS``.

For each endpoint named there (``{config: {endpoint: suffix}}``), under its
``item_route`` and with ``/files`` as the suffix:

===========================================  =================================
Route                                        View
===========================================  =================================
``/files``                                   ``<endpoint>_bucket_api``
``/files/<key>``                             ``<endpoint>_object_api``
``/files/<key>/container``                   ``<endpoint>_container_api``
``/files/<key>/container/<path>``            ``<endpoint>_container_member_api``
``/files-archive``                           ``<endpoint>_archive_api``
``/actions/files-import`` (``POST``)         ``<endpoint>_files_import_api``
===========================================  =================================

``RECORDS_FILES_REST_MEDIA_ENDPOINTS`` (same shape) mounts the same routes
for the record's media files, named ``<endpoint>_media_...``.

Reserved suffixes of a file's URL: ``/container`` and ``/container/...``
(GET and HEAD). Routes with a fixed suffix after ``<key>`` are matched
before the route of one file, whatever their suffix; other modules adding
such routes (``/<key>/content``, ``/<key>/commit``) follow the same rule.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from werkzeug.routing import PathConverter

from ..errors import ConfigurationError
from ..files.buckets import FILES, MEDIA
from ..serializer import BLUEPRINT_NAME, json_serializer
from .archive import RecordArchiveResource
from .containers import SUFFIX, ContainerListResource, ContainerMemberResource
from .errors import register_error_handlers
from .imports import FilesImportResource
from .listing import RecordBucketResource
from .objects import RecordContentResource, RecordObjectResource
from .transfers import CommitResource, ContentResource, PartResource


class FileKeyConverter(PathConverter):
    """Any file key, a leading ``/`` included, so that it reaches the key checks.

    Werkzeug's ``path`` converter does not match a leading ``/``, and merging
    slashes answers an HTML redirect: both would hide a bad key.
    """

    regex = ".+?"
    part_isolating = False


KEY_CONVERTER = "records_files_key"


def _add_transfer_rules(
    blueprint: Blueprint, endpoint: str, object_route: str, view_options: dict[str, Any]
) -> None:
    """Add the three-step upload routes of one endpoint (see rest/transfers.py)."""
    rules = (
        ("/content", "content_api", RecordContentResource, ["GET", "HEAD", "OPTIONS"]),
        ("/content", "content_upload_api", ContentResource, ["PUT"]),
        ("/content/<int:part>", "part_api", PartResource, ["PUT", "OPTIONS"]),
        ("/commit", "commit_api", CommitResource, ["POST", "OPTIONS"]),
    )
    for suffix, name, view, methods in rules:
        blueprint.add_url_rule(
            object_route + suffix,
            view_func=view.as_view("{0}_{1}".format(endpoint, name), **view_options),
            methods=methods,
            merge_slashes=False,
        )


def _add_routes(
    blueprint: Blueprint,
    route: str,
    prefix: str,
    role: str,
    endpoint: str,
    options: Any,
) -> None:
    serializers = {"application/json": json_serializer}
    view_options = dict(
        endpoint=endpoint, endpoint_options=options, role=role, view_prefix=prefix
    )
    key = "/<{0}:key>".format(KEY_CONVERTER)
    member = "/<{0}:path>".format(KEY_CONVERTER)
    # The suffixed routes first: Werkzeug tries rules of equal weight in
    # the order they were added.
    blueprint.add_url_rule(
        route + key + "/" + SUFFIX + member,
        view_func=ContainerMemberResource.as_view(
            "{0}_container_member_api".format(prefix), **view_options
        ),
        methods=["GET", "HEAD", "OPTIONS"],
        merge_slashes=False,
    )
    blueprint.add_url_rule(
        route + key + "/" + SUFFIX,
        view_func=ContainerListResource.as_view(
            "{0}_container_api".format(prefix), **view_options
        ),
        methods=["GET", "HEAD", "OPTIONS"],
        merge_slashes=False,
    )
    blueprint.add_url_rule(
        route,
        view_func=RecordBucketResource.as_view(
            "{0}_bucket_api".format(prefix), serializers=serializers, **view_options
        ),
        strict_slashes=False,
        # A JSON 400 for keys with '//', not Werkzeug's HTML redirect.
        merge_slashes=False,
    )
    blueprint.add_url_rule(
        route + key,
        view_func=RecordObjectResource.as_view(
            "{0}_object_api".format(prefix), serializers=serializers, **view_options
        ),
        merge_slashes=False,
    )
    blueprint.add_url_rule(
        route + "-archive",
        view_func=RecordArchiveResource.as_view(
            "{0}_archive_api".format(prefix), **view_options
        ),
        methods=["GET", "HEAD", "OPTIONS"],
    )
    if role == FILES:
        blueprint.add_url_rule(
            options["item_route"] + "/actions/files-import",
            view_func=FilesImportResource.as_view(
                "{0}_files_import_api".format(prefix), **view_options
            ),
            methods=["POST", "OPTIONS"],
        )
        _add_transfer_rules(
            blueprint,
            prefix,
            route + key,
            dict(serializers=serializers, **view_options),
        )


def _endpoints(app: Any, setting: str) -> list[tuple[str, Any, str]]:
    """Return ``(endpoint, options, suffix)`` of a routes setting.

    :raises ~invenio_records_files_ext.errors.ConfigurationError: (a ValueError) if an endpoint is not in the named configuration.
    """
    found = []
    for config_name, endpoints in (app.config.get(setting) or {}).items():
        rest_endpoints = app.config.get(config_name) or {}
        for endpoint, suffix in endpoints.items():
            if endpoint not in rest_endpoints:
                raise ConfigurationError(
                    "Endpoint {0} is not defined in {1}.".format(endpoint, config_name)
                )
            found.append((endpoint, rest_endpoints[endpoint], suffix))
    return found


def create_blueprint_from_app(app: Flask) -> Blueprint:
    """Create the files blueprint from ``RECORDS_FILES_REST_ENDPOINTS``.

    Media files routes come from ``RECORDS_FILES_REST_MEDIA_ENDPOINTS``.

    :raises ~invenio_records_files_ext.errors.ConfigurationError: (a ValueError) if an endpoint is not in the named configuration.
    """
    blueprint = Blueprint(BLUEPRINT_NAME, __name__, url_prefix="")
    app.url_map.converters.setdefault(KEY_CONVERTER, FileKeyConverter)
    for setting, role, label in (
        ("RECORDS_FILES_REST_ENDPOINTS", FILES, ""),
        ("RECORDS_FILES_REST_MEDIA_ENDPOINTS", MEDIA, "_media"),
    ):
        for endpoint, options, suffix in _endpoints(app, setting):
            route = options["item_route"] + "/" + suffix.strip("/")
            _add_routes(blueprint, route, endpoint + label, role, endpoint, options)
    register_error_handlers(blueprint)
    return blueprint
