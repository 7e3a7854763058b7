"""Ingesting a BagIt bag (RFC 8493) into a record: verified whole, then attached.

The bag (a folder or a zip file, :mod:`.bag_sources`) is first verified
completely (:func:`.bag_verify.verify_bag`): any problem raises
:class:`~invenio_records_files_ext.errors.InvalidBagError`, naming its
file, and nothing is attached.

:func:`ingest_bag` then stores the payload with the bulk attach of
:mod:`invenio_records_files_ext.maintenance.attach` (committed batches; a
file the record already holds with the same size and MD5 is skipped),
keys being the paths under ``data/``, in the order of the bag's
manifest. In each batch's transaction the checksums computed while
storing are compared with the bag's (a file changed since it was
verified undoes its batch), and the bag's checksums are kept as the
files' own (:func:`invenio_records_files_ext.storage.checksums.save_checksums`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidBagError
from ..storage.checksums import SUPPORTED, save_checksums, stored_checksums
from . import attach as attaching
from .bag_sources import BagSource, open_bag
from .bag_verify import BagFile, verify_bag
from .identifiers import RecordId

Advance = Callable[[int], None]
"""Progress callback: called with the number of bytes just read."""


@dataclass
class BagIngestResult:
    """What ingesting a bag did."""

    files: int
    algorithms: list[str]
    attached: attaching.AttachResult


def _keep_bag_checksums(bag: dict[str, BagFile]) -> attaching.BeforeCommit:
    def before_commit(files: Any, batch: Sequence[attaching.LocalFile]) -> None:
        for item in batch:
            instance = files[item.key].obj.file
            measured = stored_checksums(instance)
            expected = bag[item.key].checksums
            for algorithm in sorted(set(measured) & set(expected)):
                if measured[algorithm] != expected[algorithm]:
                    # Changed since it was verified: the batch is undone.
                    raise InvalidBagError(
                        [
                            "{0}: the bytes stored do not have the {1} checksum "
                            "verified".format(item.path, algorithm)
                        ]
                    )
            kept = {name: expected[name] for name in expected if name in SUPPORTED}
            save_checksums(instance, {**measured, **kept})

    return before_commit


def ingest_bag(
    record_id: RecordId,
    path: str,
    batch_size: int = 100,
    batch_bytes: int = 1024**3,
    advance: Advance = lambda _: None,
) -> BagIngestResult:
    """Verify the bag at ``path`` (a folder or a zip file), then attach its payload.

    ``advance`` is called with the bytes read, while verifying and while
    storing.

    :raises InvalidBagError: the bag is not valid; nothing was attached.
    :raises invenio_records_files_ext.errors.AttachStoppedError: storing
        stopped; the batches committed before stay.
    :raises invenio_records_files_ext.errors.RecordsFilesError: the record
        cannot be written.
    """
    stored = attaching.stored_files(record_id)
    source = open_bag(path)
    try:
        verified = verify_bag(source, advance)
        wanted = []
        skipped = attaching.AttachResult()
        for item in verified.files:
            known = stored.get(item.key)
            if (
                known is not None
                and known.size == item.size
                and known.checksum == "md5:" + item.checksums["md5"]
            ):
                skipped.skipped += 1
                skipped.skipped_bytes += item.size
                advance(item.size)
                continue
            wanted.append(
                attaching.LocalFile(
                    item.key,
                    "{0}:{1}".format(source.name, item.path),
                    item.size,
                    opener=_opener(source, item.path),
                )
            )
        done = attaching.attach(
            record_id,
            wanted,
            {},
            batch_size,
            batch_bytes,
            advance,
            _keep_bag_checksums({item.key: item for item in verified.files}),
        )
    finally:
        source.close()
    done.skipped += skipped.skipped
    done.skipped_bytes += skipped.skipped_bytes
    return BagIngestResult(len(verified.files), verified.algorithms, done)


def payload_size(path: str) -> int:
    """Return the bytes of the payload of the bag at ``path``, as its files say.

    :raises InvalidBagError: neither a folder nor a zip file with a bag.
    """
    source = open_bag(path)
    try:
        return sum(source.payload().values())
    finally:
        source.close()


def _opener(source: BagSource, path: str) -> attaching.Opener:
    return lambda: source.open(path)


__all__ = ("BagIngestResult", "ingest_bag", "payload_size")
