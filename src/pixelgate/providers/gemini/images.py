"""The gemini adapter: `POST {base}/v1beta/models/{model}:generateContent` with
`x-goog-api-key` (doc §3), for Gemini image models (gemini-2.5-flash-image,
gemini-3-pro-image-preview, gemini-3.1-flash-image-preview, …).

    POST /v1beta/models/gemini-2.5-flash-image:generateContent
    {"contents": [{"role": "user", "parts": [{"text": "a lighthouse"}]}],
     "generationConfig": {"responseModalities": ["IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}}
    → 200 {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png",
           "data": "iVBOR..."}}]}, "finishReason": "STOP"}], "usageMetadata": {...}}

Pure: it builds requests and reads answers; the executor does the I/O. The pieces live in
request.py (body), response.py (answer, blocks, usage), errors.py, stream.py and
passthrough.py; this class ties them to the adapter protocols.
"""

from __future__ import annotations

import orjson

from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.core.native import NativeCall
from pixelgate.core.streaming import SseEvent
from pixelgate.errors import GatewayError
from pixelgate.providers.base import Route, UpstreamRequest, UpstreamResponse
from pixelgate.providers.gemini import passthrough, stream
from pixelgate.providers.gemini.endpoints import auth_headers, method_url
from pixelgate.providers.gemini.errors import map_error
from pixelgate.providers.gemini.request import generate_body
from pixelgate.providers.gemini.response import load, parse_answer

__all__ = ["GeminiAdapter"]


class GeminiAdapter:
    """HttpAdapter + ContentStreamAdapter + NativePassthrough for the Gemini API."""

    @property
    def protocol(self) -> str:
        return "gemini"

    def to_upstream(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        return UpstreamRequest(
            "POST",
            method_url(route, "generateContent"),
            headers=auth_headers(route),
            content=orjson.dumps(generate_body(req)),
        )

    def from_upstream(self, resp: UpstreamResponse, req: ImageRequest, route: Route) -> ImageResult:
        result = parse_answer(load(resp.body))
        assert result is not None  # a whole answer always has an image, text or an error
        return result

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        return map_error(resp, route)

    def content_stream_request(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        return stream.stream_request(req, route)

    def parse_content_event(
        self, event: SseEvent, req: ImageRequest, route: Route
    ) -> ImageResult | None:
        return stream.parse_event(event, route)

    def passthrough_request(self, call: NativeCall, route: Route) -> UpstreamRequest:
        return passthrough.passthrough_request(call, route)

    def count_images(self, payload: str | bytes) -> int:
        return passthrough.count_images(payload)
