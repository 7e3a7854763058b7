"""The REST layer: the files routes of records, and Invenio-Files-REST's own.

* :mod:`.errors`: JSON answers for every error;
* :mod:`.base`: what every files view does (resolve, decide, inject the
  bucket);
* :mod:`.listing`: the paged listing of a record's files and versions;
* :mod:`.objects`: one file (download, upload, delete, multipart);
* :mod:`.files_rest`: Invenio-Files-REST's ``/files/<bucket>`` routes for
  buckets linked to a record, served by the same views;
* :mod:`.routing`: the blueprint built from ``RECORDS_FILES_REST_ENDPOINTS``.

The views hold no domain logic: they parse requests and call the library.

The other modules:

* ``archive``: ``GET <item route>/files-archive``: the record's files as one
  zip archive;
* ``bodies``: Request bodies of the JSON routes: JSON, declared as such, or
  nothing;
* ``containers``: Browsing inside a zip file of a record;
* ``imports``: ``POST <item route>/actions/files-import``: a new version
  imports its files;
* ``listing_json``: A listing page's JSON, built as dicts from the page's
  rows;
* ``negotiation``: What a ``GET`` of one file's route answers: its bytes or
  its entry;
* ``query_args``: The paging arguments of the listing routes, read by
  webargs;
* ``rdm``: File entries in InvenioRDM's JSON shape, for the three-step
  upload routes;
* ``transfers``: The three-step upload routes, in InvenioRDM's shape;
* ``url_templates``: The URLs of a route for many file keys, built once and
  filled in per key;
* ``urls``: Absolute URLs of the API, at the address the site says it has.
"""
