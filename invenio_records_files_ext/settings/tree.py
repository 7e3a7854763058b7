"""The whole settings tree: :class:`Settings`, read by :meth:`Settings.from_config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .archives import ArchiveSettings, ContainerSettings
from .fetch import FetchLimits
from .groups import (
    AccessSettings,
    BucketSettings,
    CliSettings,
    DumpSettings,
    EmbargoSettings,
    FixitySettings,
    ListingSettings,
    ProcessorSettings,
    RestSettings,
    StorageSettings,
    TransferSettings,
)
from .keys import KeyPolicy
from .reading import Reader


@dataclass(frozen=True)
class Settings:
    """Every ``RECORDS_FILES_*`` setting of an application, by concern."""

    access: AccessSettings
    embargo: EmbargoSettings
    buckets: BucketSettings
    keys: KeyPolicy
    storage: StorageSettings
    transfers: TransferSettings
    fetch: FetchLimits
    dumps: DumpSettings
    listing: ListingSettings
    rest: RestSettings
    cli: CliSettings
    archives: ArchiveSettings
    containers: ContainerSettings
    processors: ProcessorSettings
    fixity: FixitySettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read every setting from ``config``, a key it lacks from its default.

        The defaults are the attributes of :mod:`invenio_records_files_ext.config`.

        :raises ~invenio_records_files_ext.errors.ConfigurationError: (a
            ValueError) for a value of the wrong type, naming its key.
        """
        reader = Reader(config)
        return cls(
            access=AccessSettings.read(reader),
            embargo=EmbargoSettings.read(reader),
            buckets=BucketSettings.read(reader),
            keys=KeyPolicy.read(reader),
            storage=StorageSettings.read(reader),
            transfers=TransferSettings.read(reader),
            fetch=FetchLimits.read(reader),
            dumps=DumpSettings.read(reader),
            listing=ListingSettings.read(reader),
            rest=RestSettings.read(reader),
            cli=CliSettings.read(reader),
            archives=ArchiveSettings.read(reader),
            containers=ContainerSettings.read(reader),
            processors=ProcessorSettings.read(reader),
            fixity=FixitySettings.read(reader),
        )


__all__ = ("Settings",)
