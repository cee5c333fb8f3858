"""Canonical, typed request and result objects shared by every dialect and provider."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pixelgate.core.b64 import B64Text
from pixelgate.errors import InvalidParameter

__all__ = [
    "GeneratedImage",
    "ImageFormat",
    "ImageInput",
    "ImageRequest",
    "ImageResult",
    "Operation",
    "ResponseFormat",
    "Size",
    "Usage",
    "sniff_format",
]

_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[x*\u00d7]\s*(\d{1,5})\s*$", re.IGNORECASE)


class Operation(StrEnum):
    GENERATE = "generate"
    EDIT = "edit"
    VARIATION = "variation"
    IMAGE_TO_IMAGE = "image-to-image"


class ResponseFormat(StrEnum):
    B64_JSON = "b64_json"
    URL = "url"


class ImageFormat(StrEnum):
    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"

    @property
    def mime(self) -> str:
        return f"image/{self.value}"

    @property
    def pillow_name(self) -> str:
        return self.value.upper()

    @classmethod
    def parse(cls, value: str, param: str = "output_format") -> ImageFormat:
        v = value.strip().lower().removeprefix("image/")
        if v == "jpg":
            v = "jpeg"
        try:
            return cls(v)
        except ValueError:
            raise InvalidParameter(
                f"Invalid {param} {value!r}: expected one of png, jpeg, webp.", param=param
            ) from None


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int

    @classmethod
    def parse(cls, value: str, param: str = "size") -> Size:
        m = _SIZE_RE.match(value)
        if not m:
            raise InvalidParameter(
                f"Invalid size {value!r}: expected WIDTHxHEIGHT such as 1024x1024, or auto.",
                param=param,
            )
        width, height = int(m.group(1)), int(m.group(2))
        if width <= 0 or height <= 0:
            raise InvalidParameter(f"Invalid size {value!r}: sides must be positive.", param=param)
        return cls(width, height)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def longest_edge(self) -> int:
        return max(self.width, self.height)

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class ImageInput:
    """A client-supplied image: bytes already read, or a URL still to fetch."""

    data: bytes | None = None
    url: str | None = None
    content_type: str | None = None
    filename: str | None = None
    # The request field it came from, for error messages (e.g. "images[1]").
    param: str | None = None


@dataclass(frozen=True, slots=True)
class ImageRequest:
    model: str
    prompt: str
    operation: Operation = Operation.GENERATE
    n: int = 1
    size: Size | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    quality: str | None = None
    output_format: ImageFormat | None = None
    output_compression: int | None = None
    background: str | None = None
    response_format: ResponseFormat = ResponseFormat.B64_JSON
    style: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    # The client's protocol can carry a text-only answer (chat completions, Gemini native);
    # /v1/images/* cannot, so for them an answer without an image is an error.
    accept_text: bool = False
    images: tuple[ImageInput, ...] = ()
    mask: ImageInput | None = None
    user: str | None = None
    stream: bool = False
    partial_images: int | None = None
    # The client protocol of `native` when it is an upstream's own shape ("dashscope"): a
    # deployment of that provider type gets the body as it came (passthrough).
    protocol: str | None = None
    # Return upstream image links as they are instead of storing and re-signing them
    # (DashScope passthrough with re-hosting switched off).
    keep_upstream_urls: bool = False
    native: dict[str, Any] = field(default_factory=dict)
    # The client's fields that the upstream will receive: `native` filtered by the model's
    # contract (see catalog.contract.ModelContract.forward), set by the pipeline.
    upstream_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_tokens: int = 0
    output_image_tokens: int = 0
    output_text_tokens: int = 0
    # What the upstream says the call cost, in micro-USD, when it reports it (xAI does).
    upstream_cost_micros: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One produced image: encoded bytes, its base64 text as the upstream sent it (kept so
    an unchanged image is never decoded and re-encoded), or a URL not yet fetched.
    `width`/`height` are 0 when unknown."""

    data: bytes | None
    fmt: ImageFormat
    width: int = 0
    height: int = 0
    url: str | None = None
    revised_prompt: str | None = None
    # A string, or still inside the upstream's answer (core.b64.RawB64).
    b64: B64Text | None = None


def sniff_format(head: bytes) -> ImageFormat | None:
    """The format of encoded image bytes from their first bytes, or None."""
    if head.startswith(b"\x89PNG"):
        return ImageFormat.PNG
    if head.startswith(b"\xff\xd8"):
        return ImageFormat.JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageFormat.WEBP
    return None


@dataclass(frozen=True, slots=True)
class ImageResult:
    images: tuple[GeneratedImage, ...]
    usage: Usage | None = None
    size: Size | None = None
    quality: str | None = None
    background: str | None = None
    output_format: ImageFormat | None = None
    text: str | None = None
    # The upstream's own JSON answer, kept when the client spoke the same protocol.
    native_body: dict[str, Any] | None = None
