"""Transfer types, transfer states and background jobs, by name."""

LOCAL = "L"
"""The client uploads the bytes through the application."""

FETCH = "F"
"""The application fetches the bytes from a URL."""

REMOTE = "R"
"""The file is a reference to a URL; no bytes are stored."""

MULTIPART = "M"
"""The client uploads the bytes in parts."""

TYPES = (LOCAL, FETCH, REMOTE, MULTIPART)
"""Every transfer type."""


# States of a transfer (``records_files_transfer.state``).
WAITING = "waiting"
"""Waiting for bytes from the client (local, multipart)."""

RECEIVED = "received"
"""Local upload: the bytes are in, the client has not committed yet."""

QUEUED = "queued"
"""Fetch: waiting for a worker."""

FETCHING = "fetching"
"""Fetch: a worker is downloading the bytes."""

VERIFYING = "verifying"
"""Multipart upload committed: a worker checksums the bytes."""

FAILED = "failed"
"""The transfer failed; ``error`` says why. Delete the file, or init it again."""

STATES = (WAITING, RECEIVED, QUEUED, FETCHING, VERIFYING, FAILED)

FETCH_JOB = "fetch"
"""Fetch the bytes of a pending fetch transfer."""

VERIFY_JOB = "verify"
"""Checksum the bytes of a committed direct multipart upload, then complete it."""
