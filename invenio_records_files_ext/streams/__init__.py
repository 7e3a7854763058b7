"""Request and response bodies of the files routes, on any WSGI server.

* ``downloads``: Response bodies of the download routes, on any WSGI server;
* ``prefetch``: Streamed bodies whose first block is produced before the
  response starts;
* ``uploads``: Request bodies of the upload routes, on any WSGI server.
"""
