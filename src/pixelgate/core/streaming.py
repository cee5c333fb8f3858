"""Streamed image generation: the events every streaming provider yields, and an SSE parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from pixelgate.core.models import GeneratedImage, ImageFormat, Usage

__all__ = ["CompletedImage", "PartialImage", "SseEvent", "StreamEvent", "parse_sse"]


@dataclass(frozen=True, slots=True)
class PartialImage:
    b64: str
    partial_index: int
    image_index: int = 0


@dataclass(frozen=True, slots=True)
class CompletedImage:
    image: GeneratedImage
    usage: Usage | None = None
    size: str | None = None
    quality: str | None = None
    background: str | None = None
    output_format: ImageFormat | None = None
    image_index: int = 0


StreamEvent = PartialImage | CompletedImage


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str
    data: str


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """Server-sent events from text lines (the `event:` / `data:` fields; others ignored)."""
    event = ""
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield SseEvent(event or "message", "\n".join(data))
