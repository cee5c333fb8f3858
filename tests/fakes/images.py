"""Small real images for fakes and tests."""

from __future__ import annotations

import base64
import io

from PIL import Image


def image_bytes(
    width: int = 64,
    height: int = 64,
    fmt: str = "PNG",
    color: tuple[int, int, int, int] = (200, 80, 40, 255),
) -> bytes:
    """Return an encoded image of the given size; RGBA for PNG/WEBP, RGB for JPEG."""
    mode = "RGB" if fmt.upper() in ("JPEG", "JPG") else "RGBA"
    img = Image.new(mode, (width, height), color[:3] if mode == "RGB" else color)
    buf = io.BytesIO()
    img.save(buf, format="JPEG" if fmt.upper() == "JPG" else fmt.upper())
    return buf.getvalue()


def image_b64(width: int = 64, height: int = 64, fmt: str = "PNG") -> str:
    return base64.b64encode(image_bytes(width, height, fmt)).decode("ascii")
