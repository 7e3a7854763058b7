"""Zip files: a record's files as one archive or bag, and browsing inside zip files.

* ``archive``: A record's files as one zip archive, streamed with constant
  memory;
* ``bags``: A record's files as a BagIt bag (RFC 8493), streamed as a zip;
* ``containers``: Browsing inside a record's zip files: list the members,
  extract one;
* ``crc``: CRC-32 (the zip format's checksum), as fast as the installed
  libraries allow;
* ``member_pages``: One page of a zip file's members: bounded by a count and
  by the names' bytes;
* ``zipreader``: Reading a zip archive with ranged reads: its central
  directory, one member;
* ``zipwriter``: Writing a zip archive as a stream: no seeking, no temporary
  file.
"""
