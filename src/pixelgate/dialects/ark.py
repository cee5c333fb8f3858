"""Ark (Volcengine) images dialect: `POST /api/v3/images/generations`, so the official Ark
SDK (`Ark(base_url=<gateway>/api/v3)`) works against the gateway.

Request: flat JSON — model, prompt, image (a URL / data URI or a list of them), size
(`1K`/`2K`/`4K` or `WxH`), seed, sequential_image_generation(_options), response_format
(`url`, Ark's default, or `b64_json`), watermark, guidance_scale, optimize_prompt_options,
stream. Every field is kept in the request's native body and forwarded to Ark deployments.
Answer: `{model, created, data: [{url|b64_json, size}], usage: {generated_images,
output_tokens, total_tokens}}`; stream events `image_generation.partial_succeeded` and
`image_generation.completed`, then `data: [DONE]`. Errors: `{"error": {code, message, param,
type}}`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pixelgate.core.b64 import B64Text
from pixelgate.core.models import ImageRequest, Operation, ResponseFormat, Size
from pixelgate.core.pipeline import ImageOutcome
from pixelgate.dialects.fields import (
    opt_bool,
    opt_int,
    opt_str,
    reference_images,
    req_str,
    response_format,
)
from pixelgate.errors import GatewayError

__all__ = ["NAME", "parse", "render", "render_completed", "render_error", "render_event"]

NAME = "ark"
_TIER = re.compile(r"^\s*\d(\.\d)?[kK]\s*$")


def parse(body: dict[str, Any]) -> ImageRequest:
    size_field = opt_str(body, "size")
    size = resolution = None
    if size_field is not None:
        if _TIER.match(size_field):
            resolution = size_field.strip().lower()
        elif size_field.strip().lower() not in ("adaptive", "auto"):
            size = Size.parse(size_field)
    images = reference_images(body)
    options = body.get("sequential_image_generation_options")
    n = 1
    if body.get("sequential_image_generation") == "auto":
        wanted = options.get("max_images") if isinstance(options, dict) else None
        n = wanted if isinstance(wanted, int) else 15
    return ImageRequest(
        model=req_str(body, "model"),
        prompt=req_str(body, "prompt"),
        operation=Operation.IMAGE_TO_IMAGE if images else Operation.GENERATE,
        n=n,
        size=size,
        resolution=resolution,
        seed=opt_int(body, "seed"),
        response_format=response_format(body, ResponseFormat.URL),
        stream=bool(opt_bool(body, "stream")),
        images=images,
        native=body,
    )


def _item(b64: B64Text | None, url: str | None, size: Size | None) -> dict[str, Any]:
    item: dict[str, Any] = {"url": url} if url else {"b64_json": b64}
    item["size"] = str(size) if size else ""
    return item


def render(outcome: ImageOutcome) -> dict[str, Any]:
    result = outcome.result
    data = [_item(o.b64_json, o.url, result.size) for o in outcome.outputs]
    tokens = result.usage.output_tokens if result.usage else 0
    return {
        "model": outcome.request.model,
        "created": int(time.time()),
        "data": data,
        "usage": {
            "generated_images": len(data),
            "output_tokens": tokens,
            "total_tokens": tokens,
        },
    }


def render_event(
    req: ImageRequest, index: int, b64: B64Text | None, url: str | None, size: Size | None
) -> tuple[str, dict[str, Any]]:
    name = "image_generation.partial_succeeded"
    payload = {"type": name, "model": req.model, "created": int(time.time()), "image_index": index}
    return name, payload | _item(b64, url, size)


def render_completed(req: ImageRequest, images: int) -> tuple[str, dict[str, Any]]:
    name = "image_generation.completed"
    return name, {
        "type": name,
        "model": req.model,
        "created": int(time.time()),
        "usage": {"generated_images": images, "output_tokens": 0, "total_tokens": 0},
    }


def render_error(err: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "code": err.error_code,
            "message": err.message,
            "param": err.param or "",
            "type": err.type,
        }
    }
