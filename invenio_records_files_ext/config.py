"""Configuration of invenio-records-files-ext.

Every key has a default set by :class:`~invenio_records_files_ext.ext.InvenioRecordsFiles`.
"""

from datetime import timedelta

RECORDS_FILES_REST_ENDPOINTS: dict[str, dict[str, str]] = {}
"""Files routes to mount under Invenio-Records-REST item routes.

Maps the name of a records REST configuration to ``{endpoint: suffix}``::

    RECORDS_FILES_REST_ENDPOINTS = {
        "RECORDS_REST_ENDPOINTS": {
            "recid": "/files",
        },
    }

mounts ``<item_route>/files`` (the bucket: list, versions, multipart
uploads) and ``<item_route>/files/<path:key>`` (one object) for the
``recid`` endpoint of ``RECORDS_REST_ENDPOINTS``. Naming an endpoint the
configuration lacks raises :class:`ValueError` when the blueprint is built.
"""

RECORDS_FILES_REST_PERMISSION_FACTORY = (
    "invenio_records_files_ext.access.permissions:record_permission_factory"
)
"""Record permission that decides who may read and change a record's files.

Called as ``factory(record=record, action=action, endpoint=endpoint)`` with
``action`` ``"read"`` or ``"update"`` and the records REST endpoint
configuration; returns an object with ``can()``, or ``None`` to allow.
The default uses the endpoint's ``read_permission_factory_imp`` and
``update_permission_factory_imp`` (falling back to Invenio-Records-REST's
defaults, whose search-backed read check is answered from the database),
so a user who may not update a record may not change its files.

It decides on the record's files routes *and* on Invenio-Files-REST's own
routes for every bucket linked to a record, whatever
``FILES_REST_PERMISSION_FACTORY`` says; that factory keeps deciding for
buckets no record owns. Superusers (Invenio-Access's ``superuser-access``)
pass in any case. See :mod:`invenio_records_files_ext.access.decisions`.
"""

RECORDS_FILES_VERSIONS_PERMISSION = "update"
"""Record permission needed to see earlier versions of the files.

Listing ``?versions`` and downloading a replaced or deleted file with
``?versionId=`` show content the record no longer offers (a file replaced
because it held personal data, say), so by default they need the record's
``"update"`` permission. Set ``"read"`` to let every reader of the record
see them, as Invenio-Records-Files did.
"""

RECORDS_FILES_OWNERS_FIELD = "owners"
"""Where :func:`~invenio_records_files_ext.access.permissions.owner_permission_factory`
finds the record's owners: the key (or dotted path, such as
``"access.owned_by"``) of a list of user ids in the record's JSON."""

RECORDS_FILES_BUCKET_LOCATION = None
"""Name of the location for new records' buckets (default location if None)."""

RECORDS_FILES_BUCKET_STORAGE_CLASS = None
"""Storage class of new records' buckets (Files-REST default if None)."""

RECORDS_FILES_BUCKET_QUOTA_SIZE = None
"""Quota in bytes of new records' buckets (Files-REST default if None)."""

RECORDS_FILES_BUCKET_MAX_FILE_SIZE = None
"""Largest file in bytes for new records' buckets (Files-REST default if None)."""

RECORDS_FILES_KEY_MAX_LENGTH = 1024
"""Longest accepted file key, in bytes of UTF-8.

Invenio-Files-REST also limits keys to ``FILES_REST_OBJECT_KEY_MAX_LEN``
characters (255 by default); raise it to accept longer keys.
"""

RECORDS_FILES_KEY_NORMALIZATION = "NFC"
"""Unicode normal form keys are stored in (``None`` keeps keys as given).

With ``"NFC"`` the composed and decomposed spellings of ``café.txt`` are
one key, whether it comes from a Mac (which sends the decomposed form) or
from anywhere else. Files stored before (under another spelling) are still
found by their own spelling.
"""

RECORDS_FILES_KEY_ALLOW_BACKSLASH = False
"""Accept backslashes in keys. Off by default: Windows tools and archive
extractors read it as a path separator."""

RECORDS_FILES_KEY_ALLOWED_FORMAT_CHARACTERS = "\u200c\u200d"
"""Invisible format characters (Unicode category Cf) accepted in keys.

Every other one is refused: bidirectional overrides (U+202E makes
``exe.txt`` display as ``txt.exe``), zero-width spaces (U+200B), the byte
order mark (U+FEFF). The default accepts the zero-width non-joiner and
joiner, which Persian, Indic scripts and emoji sequences need; set ``""``
to refuse them too.
"""

RECORDS_FILES_KEY_ALLOW_BLANK = False
"""Accept keys, or path segments, made only of white space (spaces,
no-break spaces, ideographic spaces...) or of other characters that display
as nothing (joiners, Hangul fillers). Off by default: such files cannot be
told apart in a listing."""

RECORDS_FILES_UPLOAD_CHUNK_SIZE = 1024 * 1024
"""Bytes read from an upload at a time while writing and hashing it.

Bodies are streamed: a worker's memory grows by a few times this value,
whatever the size of the file.
"""

RECORDS_FILES_CHECKSUMS = ["md5"]
"""The checksum algorithms kept for every stored file.

MD5 is always kept (in Files-REST's ``FileInstance.checksum``); add any of
``sha1``, ``sha256``, ``sha512`` and ``blake2b``. See
:mod:`invenio_records_files_ext.storage.checksums`.
"""

RECORDS_FILES_FSYNC = True
"""Flush each new file to the disk before the upload is acknowledged.

With local storage (``invenio_records_files_ext.storage.writes:pyfs_storage_factory``,
which the extension installs in place of Invenio-Files-REST's own), a
write returns only once the file's bytes and the directory entries made
for it are on disk (``fdatasync``/``fsync``), so the transaction that
records the file never names bytes that a crash or power loss can take
away; long writes are flushed in steps while they arrive. Turn it off
only where losing recent files on a crash does not matter (throwaway
demos, test suites): uploads then end in the page cache, as they do with
Invenio-Files-REST's own storage. Other storage (S3) is not affected.
"""

RECORDS_FILES_DUMP_SUMMARY = True
"""Add ``_files_summary`` (count, bytes, mimetypes, default preview, inline) to
``record.dumps()``, hence to search documents and REST output."""

RECORDS_FILES_INLINE_MAX_ENTRIES = 1000
"""Most files a record shows inline as ``record["_files"]`` and in dumps.

Records with more files show no ``_files`` (reading ``record["_files"]``
raises :class:`~invenio_records_files_ext.errors.TooManyFilesError`); their
dumps carry ``_files_summary`` with ``"inline": false``. Use
``record.files`` (it streams) or the paginated REST listing for them.
"""

RECORDS_FILES_LISTING_PAGE_SIZE = 1000
"""Files per page of the REST listing when the client asks for no ``size``."""

RECORDS_FILES_LISTING_MAX_PAGE_SIZE = 1000
"""Largest ``size`` a client may ask of the REST listing."""

RECORDS_FILES_CLI_DEFAULT_PID_TYPE = "recid"
"""PID type of bare record identifiers given to ``flask records-files``.

``flask records-files list 6`` then means the record of PID ``recid:6``;
other types are named in full (``doi:10.1234/abc``) or with the group's
``--pid-type`` option.
"""

#
# Pending files and transfers (see docs/transfers.rst)
#
RECORDS_FILES_TRANSFER_TYPES = ("L", "F", "R", "M")
"""Transfer types clients may choose when they announce files: ``L``
(local, three steps), ``F`` (fetch from a URL), ``R`` (remote: a reference
to a URL) and ``M`` (multipart). Fetch and remote transfers also need their
allowed hosts."""

RECORDS_FILES_INIT_MAX_FILES = 1000
"""Most files one ``POST .../files`` (or ``transfers.init()``) may announce."""

RECORDS_FILES_PENDING_MAX_AGE = 7 * 24 * 3600
"""Seconds after which a pending file whose transfer has not moved counts as
abandoned: ``flask records-files gc --delete`` removes it, its bytes and
its quota reservation."""

RECORDS_FILES_MULTIPART_MAX_PARTS = 10000
"""Most parts of a multipart transfer (S3's own limit is 10,000)."""

RECORDS_FILES_FETCH_ALLOWED_HOSTS = ()
"""Hosts fetch transfers may download from: host names
(``data.example.org``), ``host:port``, or ``*.example.org`` for a domain.
Empty (the default): no fetch transfer is accepted."""

RECORDS_FILES_FETCH_ALLOW_PRIVATE_ADDRESSES = False
"""Let fetches connect to loopback, private, link-local and other
non-public addresses. Off by default: a fetch must not reach services that
only the server can (SSRF). Tests and closed networks may turn it on."""

RECORDS_FILES_FETCH_MAX_SIZE = 50 * 1024**3
"""Largest file a fetch may download, in bytes: 50 GiB by default.

Bounded because a fetch lets any writer make the server download from a
host it chose: an endless or huge body must not fill the storage before a
bucket quota (which may be unset) stops it. 50 GiB holds the largest files
repositories commonly take in one piece (InvenioRDM's default quota per
record is 10 GiB) while a source streaming without end is cut off.
``None`` leaves the bucket's limits alone."""

RECORDS_FILES_FETCH_TIMEOUT = 3600
"""Seconds a whole fetch may take, enforced on every socket read: a source
sending a byte now and then cannot keep a fetch going past it."""

RECORDS_FILES_FETCH_READ_TIMEOUT = 60
"""Seconds one read of a fetch may wait for data (the source is silent that
long: the fetch fails, and is retried as a transient failure)."""

RECORDS_FILES_FETCH_LEASE = 300
"""Seconds a fetch stays the business of its worker without news from it.

The worker renews its lease on the transfer every quarter of this while
bytes come; the ``sweep_transfers`` task (Celery beat, every minute) queues
a fetch not renewed for this long again: a worker killed mid-fetch delays
its file by about this much."""

RECORDS_FILES_FETCH_MAX_ATTEMPTS = 3
"""Times a fetch may lose its worker before it fails (with a message
saying so)."""

RECORDS_FILES_FETCH_CONNECT_TIMEOUT = 10
"""Seconds a fetch may wait for its connection."""

RECORDS_FILES_FETCH_MAX_REDIRECTS = 5
"""Redirects a fetch follows (each target is checked like the first URL)."""

RECORDS_FILES_REMOTE_ALLOWED_HOSTS = ()
"""Hosts remote transfers may point to (same forms as
``RECORDS_FILES_FETCH_ALLOWED_HOSTS``). Empty: no remote file is accepted."""
RECORDS_FILES_ACCESS_FIELD = "access"
"""Key of the record's access settings in its JSON (InvenioRDM's shape).

``{"files": "public" | "restricted", "embargo": {"active": ..., "until":
"YYYY-MM-DD", "reason": ...}}``: see
:mod:`invenio_records_files_ext.access.restrictions`.
"""

RECORDS_FILES_RESTRICTED_PERMISSION_FACTORY = (
    "invenio_records_files_ext.access.permissions:restricted_files_permission_factory"
)
"""Who may read the files of a record whose files are restricted or embargoed.

Asked *in addition to* the record's read permission, on every route that
reads files (listing, download, versions, the files archive, zip browsing),
as ``factory(record=record, action=action, endpoint=endpoint)`` with
``action`` ``"read"`` or ``"versions"``; returns an object with ``can()``,
or ``None`` to allow. The default lets those who may update the record
read its restricted files. Superusers pass in any case.
"""

RECORDS_FILES_EMBARGO_BATCH_SIZE = 500
"""Records whose embargo ends that ``lift-embargoes`` reads per query."""

RECORDS_FILES_REST_MEDIA_ENDPOINTS: dict[str, dict[str, str]] = {}
"""Media files routes, in the shape of ``RECORDS_FILES_REST_ENDPOINTS``::

    RECORDS_FILES_REST_MEDIA_ENDPOINTS = {
        "RECORDS_REST_ENDPOINTS": {"recid": "/media-files"},
    }

mounts ``<item_route>/media-files`` and ``<item_route>/media-files/<key>``
(and ``<item_route>/media-files-archive``) for the record's media files. An
upload there gives a record without media files its media files bucket.
"""

RECORDS_FILES_MEDIA_BUCKET_QUOTA_SIZE = None
"""Quota in bytes of new media files buckets (Files-REST default if None)."""

RECORDS_FILES_MEDIA_BUCKET_MAX_FILE_SIZE = None
"""Largest media file in bytes (Files-REST default if None)."""

RECORDS_FILES_ARCHIVE_CHUNK_SIZE = 1024 * 1024
"""Bytes read from storage at a time while streaming the files archive."""

RECORDS_FILES_ARCHIVE_BLOCK_SIZE = 64 * 1024
"""Small pieces of the files archive (headers, small files) are sent in
blocks of at least this many bytes."""

RECORDS_FILES_CONTAINER_MAX_MEMBERS = 10000
"""Most members of a zip file that ``.../<key>/container`` lists (413 beyond)."""

RECORDS_FILES_CONTAINER_MAX_DIRECTORY_SIZE = 16 * 1024 * 1024
"""Largest central directory of a zip file read, in bytes (413 beyond)."""

RECORDS_FILES_CONTAINER_MAX_MEMBER_SIZE = 1024 * 1024 * 1024
"""Largest member extracted from a zip file, uncompressed (413 beyond)."""

RECORDS_FILES_CONTAINER_MAX_RATIO = 200
"""Largest expansion (uncompressed / compressed size) of an extracted
member: more is taken for a zip bomb (400)."""

RECORDS_FILES_ALLOW_RANGE_REQUESTS = True
"""Answer ``Range`` requests on the record's file routes (206, 416).

Single byte ranges only: a request for several ranges gets the whole file,
and so does a ``Range`` in another unit or one that does not parse (RFC
9110); a byte range outside the file answers 416.
Invenio-Files-REST's own ``FILES_REST_ALLOW_RANGE_REQUESTS`` is not needed.
On S3 (invenio-s3), downloads are redirected to the object store, which
answers the range itself.
"""

RECORDS_FILES_PROCESSORS = [
    "invenio_records_files_ext.processors.image:ImageProcessor",
    "invenio_records_files_ext.processors.zip:ZipProcessor",
]
"""Metadata extractors run when a file is completed (import strings or classes).

Their results are stored in the file's metadata under ``_extracted``
(see :mod:`invenio_records_files_ext.processors`); ``[]`` turns extraction
off.
"""

RECORDS_FILES_PROCESSORS_TIMEOUT = 5.0
"""Seconds a processor may take on one file before it is given up."""

RECORDS_FILES_PROCESSORS_MAX_READ = 16 * 1024 * 1024
"""Most bytes a processor may read from one file."""

RECORDS_FILES_PROCESSORS_MAX_PIXELS = 178956970
"""Largest image (in pixels) the image processor accepts (Pillow's default)."""

#
# Issue 20, items 3-8: bounded container listings, restricted entries.
#
RECORDS_FILES_CONTAINER_CACHE_BYTES = 64 * 1024 * 1024
"""Bytes of memory the tables of contents each process keeps, in all (each
member counted with its name; cached per file version, least recently used
dropped first). Replaces ``RECORDS_FILES_CONTAINER_CACHE_MEMBERS``."""

RECORDS_FILES_CONTAINER_MAX_NAME_LENGTH = 4096
"""Longest member name of a zip file read, in bytes (413 beyond)."""

RECORDS_FILES_CONTAINER_PAGE_SIZE = 1000
"""Members of a zip file listed per page unless ``?size=`` says otherwise."""

RECORDS_FILES_CONTAINER_MAX_PAGE_SIZE = 1000
"""Largest ``?size=`` of a zip file's listing."""

RECORDS_FILES_CONTAINER_PAGE_NAME_BYTES = 128 * 1024
"""Bytes of member names (UTF-8) one page of a zip file's listing holds at
most: a page of long names holds fewer members (one at least)."""

RECORDS_FILES_RESTRICTED_VISIBLE_FIELDS = ("key",)
"""The fields of a restricted file's entry shown to readers who may not
read the file (in ``_files``, ``_media_files``, dumps and search documents).

The other fields (size, checksum, mimetype, ids, the file's metadata and
``_extracted``) are left out, and ``_files_summary`` then leaves out
``total_bytes`` (unless ``"size"`` is shown) and ``mimetypes`` (unless
``"mimetype"`` is)."""


# BagIt bags (issue 23): ``<item route>/files-archive?format=bagit`` and
# ``flask records-files attach --bag``
#
RECORDS_FILES_BAG_INFO: dict[str, str] = {}
"""Fields of every bag's ``bag-info.txt``, before those of the record.

Labels to a value, or to a list of values for a repeated label, for
example ``{"Source-Organization": "Example University Library",
"Contact-Name": "Research data team", "Contact-Email": "data@example.org"}``.
``External-Identifier`` (the record's PID), ``Title``, ``Bagging-Date``
and ``Payload-Oxum`` are added for each bag.
"""
# Fixity audit (invenio_records_files_ext.maintenance.fixity)
#
RECORDS_FILES_FIXITY_INTERVAL = timedelta(days=30)
"""A stored file is read back at most once per this period (a
:class:`~datetime.timedelta`, or seconds). Files never checked count from
when they were stored."""

RECORDS_FILES_FIXITY_BATCH = 100
"""Files a worker claims at a time: a claim is one bounded query and the
unit the workers share."""

RECORDS_FILES_FIXITY_LEASE = timedelta(hours=6)
"""How long a claimed batch is a worker's: should the worker die, its files
are due again this long after the claim. Give it more than a batch takes to
read (``RECORDS_FILES_FIXITY_BATCH`` files at the storage's speed)."""

RECORDS_FILES_FIXITY_TASKS = 2
"""Batch-checking tasks the beat task
(``invenio_records_files_ext.tasks.fixity.audit_fixity``) sends each time it
runs: how many workers may share the audit at once."""

RECORDS_FILES_FIXITY_TASK_BATCHES = 50
"""Most batches one of those tasks checks before it ends (the next beat
sends new ones): a task does not hold a worker for ever."""
