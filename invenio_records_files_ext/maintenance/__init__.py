"""Maintenance of records' files outside requests.

What ``flask records-files`` does, as a library: each module holds one
command's algorithm and returns dataclasses; the command line only parses
arguments, calls these functions and prints what they return.

* :mod:`.identifiers`: a record named by UUID or persistent identifier.
* :mod:`.records`: loading a record for maintenance.
* :mod:`.attach`: storing local files and folders in committed batches.
* :mod:`.verify`: reading stored bytes back against their checksums.
* :mod:`.fixity` and :mod:`.fixity_report`: the scheduled fixity audit
  (shared by many workers) and its report. The audit's run is in
  ``fixity``, which re-exports the names of the three modules it is made
  of: ``fixity_schedule`` (which files are due, and claiming a batch of
  them), ``fixity_reading`` (reading a file back and comparing it) and
  ``fixity_results`` (storing and counting the outcomes).
* :mod:`.check`: comparing file rows with the buckets' current versions.
* :mod:`.gc` and :mod:`.localstorage`: finding and removing what nothing
  uses any more. The run (``flask records-files gc``: its steps in order,
  its options and its report) is :func:`.gc_collect.collect`; ``gc`` holds
  the steps over rows, ``localstorage`` the walk of local folders.

The other modules:

* ``bag_ingest``: Ingesting a BagIt bag (RFC 8493) into a record: verified
  whole, then attached;
* ``bag_sources``: Reading a BagIt bag as it is given: a folder, or a zip
  file;
* ``bag_verify``: Verifying a BagIt bag (RFC 8493) completely, before
  anything of it is used;
* ``embargoes``: Lifting every embargo whose day has come, record by record.
"""
