"""One page of a zip file's members: bounded by a count and by the names' bytes.

A listing of the members of a zip file (``.../<key>/container``) comes a
page at a time, like the files listing: at most ``size`` members, and no
more names than ``RECORDS_FILES_CONTAINER_PAGE_NAME_BYTES`` bytes (UTF-8)
in all, so that an archive of long names answers small pages. The cursor
of the next page names the member it starts at and the version of the
file it was made for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .. import config as defaults
from ..db import cursors
from ..errors import InvalidCursorError
from ..settings.current import current
from .zipreader import Directory, Member


@dataclass(frozen=True)
class PageLimits:
    """How much one page of a listing holds."""

    size: int = defaults.RECORDS_FILES_CONTAINER_PAGE_SIZE
    """Members at most."""

    name_bytes: int = defaults.RECORDS_FILES_CONTAINER_PAGE_NAME_BYTES
    """Bytes of names (UTF-8) at most; a page holds one member at least."""


def page_limits(size: Optional[int] = None) -> PageLimits:
    """Return the page limits of the configuration, ``size`` members if given."""
    settings = current().containers
    return PageLimits(
        size=size or settings.page_size, name_bytes=settings.page_name_bytes
    )


def max_page_size() -> int:
    """Return ``RECORDS_FILES_CONTAINER_MAX_PAGE_SIZE``."""
    return current().containers.max_page_size


@dataclass(frozen=True)
class MembersPage:
    """One page of the members of an archive."""

    members: tuple[Member, ...]
    """The members of the page, in the directory's order."""

    next: Optional[str]
    """The cursor of the next page (``None`` on the last one)."""


def _start(directory: Directory, version_id: Any, after: Optional[str]) -> int:
    if not after:
        return 0
    start, version = cursors.decode(after, int, str)
    # A cursor names the version it was made for: another one's indexes
    # mean other members.
    if version != str(version_id) or not 0 <= start <= len(directory.members):
        raise InvalidCursorError()
    return int(start)


def members_page(
    directory: Directory,
    version_id: Any,
    after: Optional[str] = None,
    limits: PageLimits = PageLimits(),
) -> MembersPage:
    """Return the page of members from cursor ``after`` (from the first if none).

    The page stops at ``limits.size`` members, or before the member whose
    name would take the page's names beyond ``limits.name_bytes`` bytes.

    :raises invenio_records_files_ext.errors.InvalidCursorError: a cursor
        that is not one of this listing's.
    """
    start = _start(directory, version_id, after)
    members = directory.members
    stop = start
    name_bytes = 0
    while stop < len(members) and stop - start < limits.size:
        name_bytes += len(members[stop].name.encode("utf-8", "surrogatepass"))
        if name_bytes > limits.name_bytes and stop > start:
            break
        stop += 1
    following = cursors.encode([stop, str(version_id)]) if stop < len(members) else None
    return MembersPage(members[start:stop], following)


__all__ = ("MembersPage", "PageLimits", "max_page_size", "members_page", "page_limits")
