"""Width, height and format of images, read from their headers (Pillow)."""

from __future__ import annotations

from typing import IO, Any, Optional, cast

from ..errors import ProcessorLimitError
from ..settings.current import current
from .base import BoundedFile, Processor

EXTENSIONS = frozenset(
    (".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp", ".jp2")
)


class ImageProcessor(Processor):
    """``{"width", "height", "format", "mode"}`` of an image.

    Only the header is read (Pillow decodes no pixel to tell the size).
    Images larger than ``RECORDS_FILES_PROCESSORS_MAX_PIXELS`` are refused
    as decompression bombs. Without Pillow installed, no image is accepted.
    """

    name = "image"

    def accepts(self, key: str, mimetype: Optional[str]) -> bool:
        """Images by MIME type or extension, when Pillow is installed."""
        try:
            import PIL  # noqa: F401
        except ImportError:
            return False
        lowered = key.lower()
        return bool(mimetype and mimetype.startswith("image/")) or any(
            lowered.endswith(extension) for extension in EXTENSIONS
        )

    def process(self, file: BoundedFile) -> dict[str, Any]:
        """Read the header."""
        from PIL import Image

        limit = current().processors.max_pixels
        # A BoundedFile has all Pillow reads of a binary file (read, seek,
        # tell) without deriving from ``typing.IO``.
        with Image.open(cast(IO[bytes], file)) as image:
            width, height = image.size
            if width * height > limit:
                raise ProcessorLimitError(
                    "The image has {0} pixels, more than the {1} allowed.".format(
                        width * height, limit
                    )
                )
            return {
                "width": int(width),
                "height": int(height),
                "format": image.format,
                "mode": image.mode,
            }


__all__ = ("ImageProcessor",)
