"""Images attached to messages: read from a path or bytes, typed by their magic bytes, checked for size.

``load_image("cat.png")`` or ``load_image(data)`` returns a ``types.Image``
(MIME type, bytes, sha256, pixel size). Only PNG, JPEG, GIF and WebP are
accepted: the formats every provider's vision API takes. ``shrink_image``
makes one small enough for an API's limit, when the user allows it.
Pixel sizes and shrinking use Pillow.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

from .errors import ImageError, ImageTooLargeError
from .types import Image

__all__ = ["ImageSource", "MEDIA_TYPES", "detect_media_type", "image_size", "load_image", "load_images",
           "check_size", "shrink_image"]

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image]
MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def detect_media_type(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP bytes, from their signature; None for anything else."""
    head = bytes(data[:12])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` in pixels from the image's header; None when it cannot be read."""
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as picture:  # lazy: reads the header only
            return picture.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def _read(source: ImageSource) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    path = Path(source)
    try:
        return path.read_bytes(), path.name
    except FileNotFoundError:
        raise ImageError(f"There is no image file at {str(path)!r}.") from None
    except IsADirectoryError:
        raise ImageError(f"{str(path)!r} is a folder, not an image file.") from None
    except OSError as exc:
        raise ImageError(f"The image {str(path)!r} could not be read ({exc.strerror or exc}).") from None


def load_image(source: ImageSource, name: str | None = None) -> Image:
    """An ``Image`` from a path or bytes; ``ImageError`` when it is not a PNG, JPEG, GIF or WebP image."""
    if isinstance(source, Image):
        return source
    if not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
        raise ImageError(f"An image must be a file path or bytes, not {type(source).__name__}.")
    data, file_name = _read(source)
    label = name or file_name
    media_type = detect_media_type(data)
    if media_type is None:
        what = f"{label!r}" if label else "The image"
        raise ImageError(f"{what} is not a PNG, JPEG, GIF or WebP image; convert it to one of those.")
    size = image_size(data)
    return Image(media_type=media_type, data=data, sha256=hashlib.sha256(data).hexdigest(), name=label,
                 width=size[0] if size else None, height=size[1] if size else None)


async def load_images(sources: Iterable[ImageSource] | None) -> list[Image]:
    """``load_image`` of each source, read off the event loop (a photo can be megabytes)."""
    items = list(sources or ())
    if not items:
        return []
    return await asyncio.to_thread(lambda: [load_image(s) for s in items])


def check_size(image: Image, limit: int | None, label: str) -> None:
    """``ImageError`` when ``image`` is over ``limit`` bytes, the largest one the ``label`` API accepts."""
    if limit is not None and len(image.data) > limit:
        name = f" {image.name!r}" if image.name else ""
        raise ImageTooLargeError(
            f"The image{name} is {_mb(len(image.data))}, over the {_mb(limit)} {label} accepts; "
            "make it smaller and attach it again.", size=len(image.data), limit=limit,
        )


def shrink_image(image: Image, max_bytes: int) -> Image:
    """A smaller copy of ``image`` (fewer pixels, same aspect) of at most ``max_bytes``; GIFs become PNG.

    Blocking (decodes and encodes): call it through ``asyncio.to_thread`` on an event loop.
    """
    from PIL import Image as PILImage

    if len(image.data) <= max_bytes:
        return image
    with PILImage.open(io.BytesIO(image.data)) as opened:
        picture = opened.convert("RGB") if image.media_type == "image/jpeg" else opened.convert("RGBA")
    fmt = {"image/jpeg": "JPEG", "image/webp": "WEBP"}.get(image.media_type, "PNG")
    media_type = f"image/{fmt.lower()}"
    scale = math.sqrt(max_bytes / len(image.data))
    for _ in range(8):
        width, height = max(1, int(picture.width * scale)), max(1, int(picture.height * scale))
        out = io.BytesIO()
        picture.resize((width, height), PILImage.LANCZOS).save(out, fmt, **({"quality": 85} if fmt != "PNG" else {}))
        data = out.getvalue()
        if len(data) <= max_bytes:
            return Image(media_type=media_type, data=data, sha256=hashlib.sha256(data).hexdigest(),
                         name=image.name, width=width, height=height)
        scale *= 0.75 * math.sqrt(max_bytes / len(data))
    raise ImageError(f"The image could not be made smaller than {_mb(max_bytes)}.")


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
