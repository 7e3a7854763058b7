"""JSON schemas of the ``_bucket``, ``_files`` and ``_default_preview`` keys.

Registered for Invenio-JSONSchemas as ``records_files/records-files-v1.0.0.json``;
reference its definitions from a record schema, e.g.
``{"$ref": "local://records_files/records-files-v1.0.0.json#/definitions/files"}``.

``records-files/records-files-v1.0.0.json`` is served too: the path (and
shape: one entry of ``_files``) of Invenio-Records-Files' schema, for
record schemas written against it.
"""
