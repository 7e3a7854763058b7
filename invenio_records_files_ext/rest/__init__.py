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
"""
