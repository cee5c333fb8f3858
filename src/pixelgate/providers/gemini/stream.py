"""Streaming: `POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse` (doc §3.4).

Same body as generateContent; the answer is SSE with only `data:` lines and no [DONE]::

    data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "Here is"}]},
           "index": 0}], "modelVersion": "gemini-3-pro-image-preview"}

    data: {"candidates": [{"content": {"role": "model", "parts": [{"inlineData":
           {"mimeType": "image/png", "data": "iVBOR..."}}]}, "finishReason": "STOP",
           "index": 0}], "usageMetadata": {"promptTokenCount": 3, ...}}

Each event becomes a partial ImageResult. A block (promptFeedback in the first chunk, a
blocking finishReason later) raises ContentPolicyError; a mid-stream `{"error": {...}}`
is mapped like an error answer with that code.
"""

from __future__ import annotations

import orjson

from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.core.streaming import SseEvent
from pixelgate.providers.base import Route, UpstreamRequest, UpstreamResponse
from pixelgate.providers.gemini.endpoints import auth_headers, method_url
from pixelgate.providers.gemini.errors import map_error
from pixelgate.providers.gemini.request import generate_body
from pixelgate.providers.gemini.response import load, parse_answer

__all__ = ["parse_event", "stream_request"]


def stream_request(req: ImageRequest, route: Route) -> UpstreamRequest:
    return UpstreamRequest(
        "POST",
        method_url(route, "streamGenerateContent"),
        headers=auth_headers(route),
        content=orjson.dumps(generate_body(req)),
        params={"alt": "sse"},
    )


def parse_event(event: SseEvent, route: Route) -> ImageResult | None:
    payload = load(event.data)
    error = payload.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        status = code if isinstance(code, int) and code >= 400 else 500
        raise map_error(UpstreamResponse(status, {}, event.data.encode()), route)
    return parse_answer(payload, partial=True)
