"""xAI Grok Imagine adapter: `POST {base}/images/generations` and `/images/edits` (both JSON).

Example request::

    POST https://api.x.ai/v1/images/generations
    Authorization: Bearer xai-...
    {"model": "grok-imagine-image", "prompt": "London in stencil art", "n": 2,
     "aspect_ratio": "16:9", "resolution": "2k", "response_format": "b64_json"}

Example response::

    {"data": [{"b64_json": "/9j/4AAQ...", "mime_type": "image/jpeg"}],
     "usage": {"cost_in_usd_ticks": 200000000}}

Edits send the input images as data URLs: `image: {url}` for one, `images: [{url}, …]` for
several, `mask: {url}`. Errors are `{"code": "<status>", "error": "<message>"}`.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from pixelgate.core.models import (
    GeneratedImage,
    ImageFormat,
    ImageInput,
    ImageRequest,
    ImageResult,
    Operation,
    Usage,
    sniff_format,
)
from pixelgate.errors import (
    ContentPolicyError,
    GatewayError,
    RequestError,
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from pixelgate.providers.base import Route, UpstreamRequest, UpstreamResponse, json_body
from pixelgate.providers.openai.endpoint import extra_headers
from pixelgate.providers.openai.errors import retry_after
from pixelgate.providers.openai.images import strip_data_prefix

__all__ = ["XaiImagesAdapter"]

XAI_BASE = "https://api.x.ai/v1"
TICKS_PER_MICRO_USD = 10_000  # 1e10 ticks = $1


def _data_url(item: ImageInput) -> dict[str, str]:
    assert item.data is not None
    fmt = sniff_format(item.data[:16]) or ImageFormat.PNG
    return {"url": f"data:{fmt.mime};base64,{base64.b64encode(item.data).decode()}"}


class XaiImagesAdapter:
    def to_upstream(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        body: dict[str, Any] = dict(req.upstream_params)
        body["model"] = route.upstream_model
        operation = "generations"
        if req.operation is not Operation.GENERATE:
            operation = "edits"
            if len(req.images) == 1:
                body["image"] = _data_url(req.images[0])
            else:
                body["images"] = [_data_url(i) for i in req.images]
            if req.mask is not None:
                body["mask"] = _data_url(req.mask)
        headers = extra_headers(route)
        headers["Content-Type"] = "application/json"
        if route.api_key is not None:
            headers["Authorization"] = f"Bearer {route.api_key.get_secret_value()}"
        base = route.provider.base_url or XAI_BASE
        return UpstreamRequest("POST", f"{base}/images/{operation}", headers, orjson.dumps(body))

    def from_upstream(self, resp: UpstreamResponse, req: ImageRequest, route: Route) -> ImageResult:
        body = json_body(resp, route)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent no image data.")
        images = []
        for item in body["data"]:
            if not isinstance(item, dict):
                raise UpstreamBadResponse("The upstream sent a malformed image entry.")
            mime = item.get("mime_type")
            fmt = ImageFormat.parse(mime) if isinstance(mime, str) else ImageFormat.JPEG
            b64, url = item.get("b64_json"), item.get("url")
            if isinstance(b64, str) and b64:
                images.append(GeneratedImage(None, fmt, b64=strip_data_prefix(b64)))
            elif isinstance(url, str) and url:
                images.append(GeneratedImage(None, fmt, url=url))
            else:
                raise UpstreamBadResponse("The upstream sent an image entry with no data.")
        usage = None
        raw = body.get("usage")
        if isinstance(raw, dict) and isinstance(raw.get("cost_in_usd_ticks"), int):
            usage = Usage(upstream_cost_micros=raw["cost_in_usd_ticks"] // TICKS_PER_MICRO_USD)
        return ImageResult(images=tuple(images), usage=usage)

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        message = ""
        try:
            data = orjson.loads(resp.body)
            if isinstance(data, dict) and isinstance(data.get("error"), str):
                message = data["error"]
        except orjson.JSONDecodeError:
            message = resp.body.decode("utf-8", "replace")[:300]
        status = resp.status
        # xAI answers a bad key with a plain 400 and no machine-readable code, so this is
        # the one place where the message text has to decide.
        if status in (401, 403) or (status == 400 and "api key" in message.lower()):
            return UpstreamAuthError(
                f"The upstream rejected the credentials of deployment {route.name}; "
                "the gateway operator has to fix them."
            )
        if status == 429:
            return UpstreamRateLimited(
                f"The upstream of {route.name} is rate limiting; try again later.",
                retry_after=retry_after(resp.headers),
            )
        if status in (400, 422):
            if "moderat" in message.lower() or "safety" in message.lower():
                return ContentPolicyError(message or "Rejected by the upstream's safety system.")
            return RequestError(message or "The upstream refused the request.")
        if status == 503:
            return UpstreamUnavailable(f"The upstream of {route.name} is unavailable (HTTP 503).")
        return UpstreamError(f"The upstream of {route.name} failed (HTTP {status}).")
