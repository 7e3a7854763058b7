"""Metadata extracted from a file when it is completed.

When a file is added or replaced (by any path: Python API, REST routes,
multipart uploads, bulk writes), the processors of
``RECORDS_FILES_PROCESSORS`` that accept it read it and their results are
stored in the file's metadata, under the reserved key ``_extracted``::

    {"_extracted": {"image": {"width": 640, "height": 480, "format": "PNG"}}}

A processor that fails records its error instead
(``{"image": {"error": "..."}}``); the upload never fails because of it.
Processors are bounded: each may read at most
``RECORDS_FILES_PROCESSORS_MAX_READ`` bytes and take at most
``RECORDS_FILES_PROCESSORS_TIMEOUT`` seconds.

* :mod:`.base`: what a processor is (:class:`~.base.Processor`) and the
  bounded view of the file it reads (:class:`~.base.BoundedFile`);
* :mod:`.image`: width, height and format of images (Pillow, headers only);
* :mod:`.zip`: member count and total size of zip files;
* :mod:`.runner`: running them and storing the results.
"""

from ..files.entries import EXTRACTED_KEY

__all__ = ("EXTRACTED_KEY",)
