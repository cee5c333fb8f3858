"""Passthrough of Gemini-native requests: the client's body goes to
`POST {base}/v1beta/models/{upstream model}:generateContent` (or `:streamGenerateContent`,
with `alt=sse` when the client asked for SSE) unchanged; only the model in the path and the
credentials are the deployment's. The answer comes back unchanged too::

    client:   POST /v1beta/models/nano-banana-pro:generateContent   x-goog-api-key: pg-...
              {"contents": [...], "generationConfig": {...}, "safetySettings": [...]}
    upstream: POST https://generativelanguage.googleapis.com/v1beta/models/
              gemini-3-pro-image-preview:generateContent   x-goog-api-key: <provider key>
              (the same bytes)
"""

from __future__ import annotations

from typing import Any

import orjson

from pixelgate.core.native import NativeCall
from pixelgate.providers.base import Route, UpstreamRequest
from pixelgate.providers.gemini.endpoints import auth_headers, method_url

__all__ = ["count_images", "passthrough_request"]


def passthrough_request(call: NativeCall, route: Route) -> UpstreamRequest:
    method = "streamGenerateContent" if call.stream else "generateContent"
    return UpstreamRequest(
        "POST",
        method_url(route, method),
        headers=auth_headers(route),
        content=call.body,
        params={"alt": "sse"} if call.stream and call.sse else {},
    )


def _count(answer: Any) -> int:
    count = 0
    candidates = answer.get("candidates") if isinstance(answer, dict) else None
    for candidate in candidates if isinstance(candidates, list) else []:
        content = candidate.get("content") if isinstance(candidate, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and not part.get("thought") and "inlineData" in part:
                count += 1
    return count


def count_images(payload: str | bytes) -> int:
    """Final (non-thought) images in an answer, a stream event, or a JSON array of chunks."""
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return 0
    return sum(map(_count, answer)) if isinstance(answer, list) else _count(answer)
