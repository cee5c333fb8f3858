"""Streaming chat completions (`"stream": true`): `chat.completion.chunk` server-sent events
ending with `data: [DONE]`.

    data: {"id": "chatcmpl-…", "object": "chat.completion.chunk", "created": 1782907654,
           "model": "gemini-3.1-flash-image-preview",
           "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}

    data: {…, "choices": [{"index": 0, "delta": {"content": "![image](data:image/png;base64,…)",
           "images": [{"type": "image_url", "image_url": {"url": "data:…"}, "index": 0}]}}]}

    data: {…, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}

    data: {…, "choices": [], "usage": {…}}        (with stream_options.include_usage)

    data: [DONE]

A failure after the stream began is sent as `data: {"error": {...}}` (which the openai SDK
raises as an APIError) before `[DONE]`, and recorded in the usage log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from pixelgate.core.b64 import json_default
from pixelgate.core.context import RequestContext
from pixelgate.core.models import Usage
from pixelgate.core.pipeline import StreamPart
from pixelgate.dialects.openai_chat import completion_id, content_of, image_items, usage_body
from pixelgate.dialects.openai_images import render_error
from pixelgate.errors import GatewayError

__all__ = ["render_stream"]

log = logging.getLogger("pixelgate.http")
DONE = b"data: [DONE]\n\n"


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload, default=json_default) + b"\n\n"


async def render_stream(
    ctx: RequestContext, parts: AsyncIterator[StreamPart], include_usage: bool
) -> AsyncIterator[bytes]:
    head = {
        "id": completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": ctx.model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if finish is not None:
            choice["finish_reason"] = finish
        return _event({**head, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    usage: Usage | None = None
    images = 0
    after_image = sent = False
    try:
        async for part in parts:
            delta: dict[str, Any] = {}
            content = content_of(part.text, part.outputs)
            if content:
                # Markdown images stand in their own paragraphs, as in a whole answer.
                gap = sent and (after_image or bool(part.outputs))
                delta["content"] = ("\n\n" if gap else "") + content
                sent, after_image = True, bool(part.outputs)
            if part.outputs:
                delta["images"] = image_items(part.outputs, images)
                images += len(part.outputs)
            usage = part.usage or usage
            if delta:
                yield chunk(delta)
    except GatewayError as err:
        ctx.stream_error = err.error_code
        log.warning("request %s: stream failed: %s", ctx.request_id, err.error_code)
        yield _event(render_error(err))
        yield DONE
        return
    yield chunk({}, "stop")
    if include_usage:
        yield _event({**head, "choices": [], "usage": usage_body(usage)})
    yield DONE
