"""What happens to all of a record's files at once: life cycle, imports, dumps.

* ``dumpers``: The record's files in its dumps: REST output and search
  documents;
* ``imports``: New versions and files-import: start without files, import
  them on request;
* ``lifecycle``: Soft deletion, restoring and purging of a record's files.
"""
