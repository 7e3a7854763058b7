"""The bytes: written durably through the storage, read back, and their checksums.

* ``checksums``: The checksums kept for each stored file: which algorithms,
  and their values;
* ``digests``: Several checksums of one stream, computed in parallel from
  the same bytes;
* ``hashing``: Checksums: reading what clients announce, and digesting
  bytes;
* ``partsums``: The checksums of a multipart upload, computed while its
  parts are written;
* ``reads``: Reading stored bytes through the storage: in chunks, or at
  given offsets;
* ``writeback``: Getting written bytes onto the disk: durable before
  acknowledged, paced;
* ``writeloop``: The write loop: a stream's bytes into a local file, hashed
  on the way;
* ``writes``: Writing the bytes of new files, and checking them against the
  client.
"""
