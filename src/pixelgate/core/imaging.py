"""Pillow work for the pipeline: validating inputs and converting outputs, off the loop."""

from __future__ import annotations

import io
import warnings

import anyio
from PIL import Image, UnidentifiedImageError

from pixelgate.core.models import ImageFormat
from pixelgate.errors import InvalidParameter

__all__ = ["convert", "inspect_image"]

MAX_INPUT_PIXELS = 64 * 1024 * 1024
_FORMATS = {"PNG": ImageFormat.PNG, "JPEG": ImageFormat.JPEG, "WEBP": ImageFormat.WEBP}


def _inspect(data: bytes, param: str) -> tuple[ImageFormat, int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_INPUT_PIXELS:
                raise InvalidParameter(
                    f"{param} is too large: {img.width}x{img.height} pixels.", param=param
                )
            img.load()
    except InvalidParameter:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidParameter(
            f"{param} is too large to decode safely (more than {MAX_INPUT_PIXELS:,} pixels).",
            param=param,
        ) from None
    except UnidentifiedImageError:
        raise InvalidParameter(
            f"{param} is not a supported image (png, jpeg or webp).", param=param
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidParameter(
            f"{param} is not a valid image (truncated or corrupt).", param=param
        ) from None
    fmt = _FORMATS.get(img.format or "")
    if fmt is None:
        raise InvalidParameter(
            f"{param} must be png, jpeg or webp, not {img.format or 'unknown'}.", param=param
        )
    return fmt, img.width, img.height


async def inspect_image(data: bytes, param: str) -> tuple[ImageFormat, int, int]:
    """Decode `data` fully; raise InvalidParameter naming `param` if it is not a usable image."""
    return await anyio.to_thread.run_sync(_inspect, data, param)


def _convert(data: bytes, fmt: ImageFormat, compression: int | None) -> bytes:
    img = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    if fmt is ImageFormat.JPEG:
        img.convert("RGB").save(buf, "JPEG", quality=compression or 90)
    elif fmt is ImageFormat.WEBP:
        img.save(buf, "WEBP", quality=compression if compression is not None else 90)
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


async def convert(data: bytes, fmt: ImageFormat, compression: int | None) -> bytes:
    return await anyio.to_thread.run_sync(_convert, data, fmt, compression)
