"""The files blueprint, built from ``RECORDS_FILES_REST_ENDPOINTS``."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from ..errors import RecordsFilesError
from ..serializer import BLUEPRINT_NAME, json_serializer
from .errors import handle_http_exception, handle_records_files_error
from .listing import RecordBucketResource
from .objects import RecordObjectResource
from .transfers import CommitResource, ContentResource, PartResource


class FileKeyConverter(PathConverter):
    """Any file key, a leading ``/`` included, so that it reaches the key checks.

    Werkzeug's ``path`` converter does not match a leading ``/``, and merging
    slashes answers an HTML redirect: both would hide a bad key.
    """

    regex = ".+?"
    part_isolating = False


KEY_CONVERTER = "records_files_key"

RESERVED_SUFFIXES = ("/content", "/content/<part>", "/commit")
"""Key endings the three-step upload routes take on a record's files routes."""


def _add_transfer_rules(blueprint, endpoint, object_route, view_options):
    """Add the three-step upload routes of one endpoint (see rest/transfers.py)."""
    rules = (
        ("/content", "content_api", RecordObjectResource, ["GET", "HEAD", "OPTIONS"]),
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


def create_blueprint_from_app(app):
    """Create the files blueprint from ``RECORDS_FILES_REST_ENDPOINTS``.

    :raises ValueError: if an endpoint is not in the named configuration.
    """
    blueprint = Blueprint(BLUEPRINT_NAME, __name__, url_prefix="")
    app.url_map.converters.setdefault(KEY_CONVERTER, FileKeyConverter)
    serializers = {"application/json": json_serializer}
    for config_name, endpoints in (
        app.config.get("RECORDS_FILES_REST_ENDPOINTS") or {}
    ).items():
        rest_endpoints = app.config.get(config_name) or {}
        for endpoint, suffix in endpoints.items():
            if endpoint not in rest_endpoints:
                raise ValueError(
                    "Endpoint {0} is not defined in {1}.".format(endpoint, config_name)
                )
            options = rest_endpoints[endpoint]
            route = options["item_route"] + "/" + suffix.strip("/")
            view_options = dict(
                serializers=serializers, endpoint=endpoint, endpoint_options=options
            )
            blueprint.add_url_rule(
                route,
                view_func=RecordBucketResource.as_view(
                    "{0}_bucket_api".format(endpoint), **view_options
                ),
                strict_slashes=False,
                # A JSON 400 for keys with '//', not Werkzeug's HTML redirect.
                merge_slashes=False,
            )
            object_route = route + "/<{0}:key>".format(KEY_CONVERTER)
            blueprint.add_url_rule(
                object_route,
                view_func=RecordObjectResource.as_view(
                    "{0}_object_api".format(endpoint), **view_options
                ),
                merge_slashes=False,
            )
            _add_transfer_rules(blueprint, endpoint, object_route, view_options)
    blueprint.register_error_handler(RecordsFilesError, handle_records_files_error)
    blueprint.register_error_handler(HTTPException, handle_http_exception)
    return blueprint
