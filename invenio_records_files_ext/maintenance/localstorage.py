"""Bytes in local storage folders that no file instance points to.

Aborted uploads leave bytes behind: the storage writes them before the
rows naming them are committed. Only local folders (``/path`` or
``file:///path`` locations) are walked; files younger than a cut-off are
kept, since an upload in progress looks exactly like garbage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Optional

from invenio_db import db
from invenio_files_rest.models import FileInstance, Location
from sqlalchemy import select

URI_SLICE = 5000
"""File instance URIs fetched at a time."""


def local_path(uri: Optional[str]) -> Optional[str]:
    """Return the absolute path of a local storage URI, or None."""
    if not uri:
        return None
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    elif "://" in uri:
        return None
    return os.path.abspath(uri)


@dataclass
class SweepState:
    """What a sweep remembers across locations (locations may nest)."""

    seen: set[str] = field(default_factory=set)
    """Unreferenced paths already reported."""

    emptied: set[str] = field(default_factory=set)
    """Folders emptied by this run: removed whatever their age."""

    def bytes_removed(self, uri: Optional[str]) -> None:
        """Note the folders that removing the bytes at ``uri`` empties."""
        path = local_path(uri)
        if path is not None:
            folder = os.path.dirname(path)
            self.emptied.update((folder, os.path.dirname(folder)))


@dataclass(frozen=True)
class LocalLocation:
    """A storage location, and its folder when it can be walked."""

    name: str
    uri: str
    root: Optional[str]
    skipped: Optional[str] = None
    """Why it is not walked: ``"remote"`` or ``"missing"``."""


def locations() -> list[LocalLocation]:
    """Return every location by name, saying which ones can be walked.

    The read transaction ends before returning: walking folders takes long.
    """
    found = []
    for location in db.session.execute(
        select(Location).order_by(Location.name)
    ).scalars():
        root = local_path(location.uri)
        if root is None:
            found.append(LocalLocation(location.name, location.uri, None, "remote"))
        elif not os.path.isdir(root):
            found.append(LocalLocation(location.name, location.uri, root, "missing"))
        else:
            found.append(LocalLocation(location.name, location.uri, root))
    db.session.rollback()
    return found


@dataclass
class Referenced:
    """Local paths file instances use.

    URIs are compared as written, which is how the storage built them from
    the location. URIs outside every walked folder (a location moved and
    reached through a symbolic link, say) are also kept resolved, so that
    bytes they reach through another path are never taken for garbage.
    """

    paths: set[str] = field(default_factory=set)
    resolved: set[str] = field(default_factory=set)

    def __contains__(self, path: object) -> bool:
        """Tell whether a walked path is in use."""
        return path in self.paths or os.path.realpath(str(path)) in self.resolved


def referenced(roots: Iterable[str]) -> Referenced:
    """Return the local paths file instances use; the transaction ends after."""
    prefixes = tuple(os.path.join(root, "") for root in roots)
    found = Referenced()
    uris = db.session.execute(
        select(FileInstance.uri)
        .where(FileInstance.uri.isnot(None))
        .execution_options(yield_per=URI_SLICE)
    ).scalars()
    for uri in uris:
        path = local_path(uri)
        if path is None:
            continue
        found.paths.add(path)
        if not path.startswith(prefixes):
            found.resolved.add(os.path.realpath(path))
    db.session.rollback()
    return found


@dataclass(frozen=True)
class StrayFile:
    """Bytes no file instance points to."""

    path: str
    size: int
    recent: bool
    """Younger than the cut-off: kept."""

    error: Optional[str] = None
    """Why it could not be deleted, if it could not."""


@dataclass
class Sweep:
    """What walking one location found and did."""

    name: str
    root: str
    found: int = 0
    found_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    deleted: int = 0
    dirs: int = 0
    errors: int = 0


def _remove_dir(dirpath: str, state: SweepState, cutoff: float) -> bool:
    """Remove a directory if it is empty and may go; return if removed."""
    try:
        # A folder just made for an upload in progress is young and was not
        # emptied by this run: leave it alone.
        if dirpath not in state.emptied and os.stat(dirpath).st_mtime > cutoff:
            return False
        # rmdir refuses a folder that is not empty, whatever happened since
        # it was listed.
        os.rmdir(dirpath)
    except OSError:
        return False
    state.emptied.add(os.path.dirname(dirpath))
    return True


def sweep(
    location: LocalLocation,
    known: Referenced,
    state: SweepState,
    cutoff: float,
    delete: bool,
    report: Callable[[StrayFile], None],
) -> Sweep:
    """Walk a location's folder; report, and with ``delete`` remove, strays.

    Files modified after ``cutoff`` (a timestamp) are reported as recent
    and kept; with ``delete``, folders left empty go too.
    """
    assert location.root is not None
    root = location.root
    result = Sweep(location.name, root)
    # Bottom-up, so that a folder is looked at after what it held.
    for dirpath, _, filenames in os.walk(root, topdown=False):
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            if path in state.seen or path in known:
                continue
            state.seen.add(path)
            try:
                stat = os.lstat(path)
            except OSError:
                continue
            if stat.st_mtime > cutoff:
                result.kept += 1
                result.kept_bytes += stat.st_size
                report(StrayFile(path, stat.st_size, recent=True))
                continue
            result.found += 1
            result.found_bytes += stat.st_size
            if not delete:
                report(StrayFile(path, stat.st_size, recent=False))
                continue
            try:
                os.remove(path)
            except OSError as error:
                result.errors += 1
                report(StrayFile(path, stat.st_size, False, str(error)))
                continue
            report(StrayFile(path, stat.st_size, recent=False))
            result.deleted += 1
            state.emptied.add(dirpath)
        if delete and dirpath != root and _remove_dir(dirpath, state, cutoff):
            result.dirs += 1
    return result
