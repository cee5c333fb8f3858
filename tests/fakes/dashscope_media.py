"""Media plumbing shared by the DashScope and Ark fakes: input images, result images, records.

Input images arrive as http(s) URLs (fetched with a real HTTP GET, so tests hand the fake
loopback URLs) or as `data:{mime};base64,{data}` URIs; both are decoded with Pillow so the
fake knows the real width, height and format. Results are real images built by
`tests.fakes.images.image_bytes`, cached per (width, height, format).

Also holds `RecordedRequest` and `redact`, which keeps those records free of whole base64
payloads.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError
from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.images import image_bytes

__all__ = [
    "InputImage",
    "MediaError",
    "RecordedRequest",
    "encoded_image",
    "load_image",
    "redact",
    "serve_asset",
    "xml_error",
]

_ASSET = re.compile(r"^(\d{1,4})x(\d{1,4})\.(png|jpg|jpeg|webp|bmp)$")
_ASSET_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP"}
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON with data URIs / long strings redacted; None when not JSON


class MediaError(Exception):
    """An input image could not be fetched or decoded."""


@dataclass(frozen=True)
class InputImage:
    width: int
    height: int
    fmt: str  # Pillow format name: JPEG, PNG, WEBP, BMP, GIF, TIFF
    nbytes: int
    has_alpha: bool


def _decode(raw: bytes) -> InputImage:
    try:
        with Image.open(io.BytesIO(raw)) as img:
            has_alpha = "A" in img.mode or "transparency" in img.info
            return InputImage(img.width, img.height, img.format or "", len(raw), has_alpha)
    except (UnidentifiedImageError, OSError) as exc:
        raise MediaError("the image content could not be decoded") from exc


async def load_image(ref: str, fetch_timeout: float) -> InputImage:
    """Decode a data URI or fetch an http(s) URL; raise MediaError on any failure."""
    if ref.startswith("data:"):
        match = _DATA_URI.match(ref)
        if match is None:
            raise MediaError("malformed data URI")
        try:
            raw = base64.b64decode(match["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MediaError("data URI is not valid base64") from exc
        return _decode(raw)
    if not ref.startswith(("http://", "https://")):
        raise MediaError("unsupported URL scheme")
    try:
        async with httpx.AsyncClient(timeout=fetch_timeout, trust_env=False) as client:
            response = await client.get(ref)
    except httpx.HTTPError as exc:
        raise MediaError(f"download failed: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise MediaError(f"download failed with HTTP {response.status_code}")
    return _decode(response.content)


@lru_cache(maxsize=64)
def encoded_image(width: int, height: int, fmt: str) -> bytes:
    return image_bytes(width, height, fmt)


def redact(value: Any) -> Any:
    """Copy of a JSON value with data URIs and long strings replaced by a length marker."""
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        if value.startswith("data:") and len(value) > 64:
            head = value.split(",", 1)[0]
            return f"{head},<{len(value)} chars>"
        if len(value) > 2048:
            return f"<{len(value)} chars>"
    return value


async def serve_asset(request: Request) -> Response:
    """GET /_fake/img/{W}x{H}.{png|jpg|jpeg|webp|bmp}: a real input image for tests to link."""
    match = _ASSET.match(request.path_params["name"])
    if match is None:
        return Response(b"bad asset name", status_code=404)
    fmt = _ASSET_FORMATS[match[3]]
    data = await asyncio.to_thread(encoded_image, int(match[1]), int(match[2]), fmt)
    return Response(data, media_type=f"image/{fmt.lower()}")


def xml_error(status: int, code: str, message: str) -> Response:
    """An object-storage style XML error, as OSS / TOS answer for expired or missing objects."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{code}</Code>\n  <Message>{message}</Message>\n"
        f"  <RequestId>{uuid.uuid4().hex.upper()[:24]}</RequestId>\n</Error>\n"
    )
    return Response(xml, status_code=status, media_type="application/xml")
