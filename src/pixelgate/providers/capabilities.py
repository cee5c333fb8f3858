"""Optional capabilities an HTTP adapter may add, each a small protocol of its own."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.core.native import NativeCall
from pixelgate.core.streaming import SseEvent
from pixelgate.providers.base import Route, UpstreamRequest

__all__ = ["ContentStreamAdapter", "NativePassthrough"]


@runtime_checkable
class ContentStreamAdapter(Protocol):
    """Streams an answer of text and images, part by part (Gemini `streamGenerateContent`)."""

    def content_stream_request(self, req: ImageRequest, route: Route) -> UpstreamRequest: ...

    def parse_content_event(
        self, event: SseEvent, req: ImageRequest, route: Route
    ) -> ImageResult | None:
        """The text, images and usage one SSE event carries (None for nothing); raises a
        GatewayError for an error event or a blocked answer."""
        ...


@runtime_checkable
class NativePassthrough(Protocol):
    """Takes requests already in the upstream's own protocol, body unchanged."""

    @property
    def protocol(self) -> str: ...

    def passthrough_request(self, call: NativeCall, route: Route) -> UpstreamRequest: ...

    def count_images(self, payload: str | bytes) -> int:
        """Images in an answer body or stream event, for the usage log."""
        ...
