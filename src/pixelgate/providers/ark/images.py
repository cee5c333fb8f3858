"""Volcengine Ark Seedream: `POST {base}/images/generations` (JSON, optional SSE).

Example request::

    POST https://ark.cn-beijing.volces.com/api/v3/images/generations
    Authorization: Bearer <ARK_API_KEY>
    {"model": "doubao-seedream-4-0-250828", "prompt": "city skyline at sunset",
     "image": ["data:image/png;base64,..."], "size": "2K",
     "sequential_image_generation": "auto",
     "sequential_image_generation_options": {"max_images": 3},
     "response_format": "b64_json", "watermark": false}

Example response::

    {"model": "doubao-seedream-4-0-250828", "created": 1757321139,
     "data": [{"b64_json": "/9j/...", "size": "2048x2048"}],
     "usage": {"generated_images": 1, "output_tokens": 16384, "total_tokens": 16384}}

Every field the client sent is forwarded (New API lost `image` and the sequential fields,
its #1789); reference images were fetched and checked by the gateway and go up as data URLs.
The gateway always asks for `b64_json`, so Ark's 24-hour links never reach a client.
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
    Size,
    Usage,
    sniff_format,
)
from pixelgate.core.streaming import CompletedImage, SseEvent, StreamEvent
from pixelgate.errors import (
    ContentPolicyError,
    GatewayError,
    InvalidParameter,
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

__all__ = ["ArkImagesAdapter"]

ARK_BASE = "https://ark.cn-beijing.volces.com/api/v3"
_OPENAI_ONLY = ("n", "quality", "background", "style", "output_compression", "moderation")


def _data_url(item: ImageInput) -> str:
    assert item.data is not None
    fmt = sniff_format(item.data[:16]) or ImageFormat.PNG
    return f"data:{fmt.mime};base64,{base64.b64encode(item.data).decode()}"


def _size(value: Any) -> Size | None:
    if isinstance(value, str) and "x" in value:
        try:
            return Size.parse(value)
        except GatewayError:
            return None
    return None


def _image(item: dict[str, Any]) -> GeneratedImage | None:
    size = _size(item.get("size"))
    width, height = (size.width, size.height) if size else (0, 0)
    b64 = item.get("b64_json")
    if isinstance(b64, str) and b64:
        b64 = strip_data_prefix(b64)
        head = base64.b64decode(b64[:24] + "=" * (-len(b64[:24]) % 4))
        fmt = sniff_format(head) or ImageFormat.JPEG
        return GeneratedImage(None, fmt, width, height, b64=b64)
    if isinstance(item.get("url"), str):
        return GeneratedImage(None, ImageFormat.JPEG, width, height, url=item["url"])
    return None  # a failed member of a group: `{"error": {...}}`


class ArkImagesAdapter:
    def _body(self, req: ImageRequest, route: Route, stream: bool) -> dict[str, Any]:
        body = {k: v for k, v in req.upstream_params.items() if k not in _OPENAI_ONLY}
        body["model"] = route.upstream_model
        body["prompt"] = req.prompt
        body["response_format"] = "b64_json"
        if req.images:
            urls = [_data_url(i) for i in req.images]
            body["image"] = urls[0] if len(urls) == 1 else urls
        if req.size is not None and "size" not in req.native:
            body["size"] = f"{req.size.width}x{req.size.height}"
        if req.n > 1 and "sequential_image_generation" not in body:
            # OpenAI-style `n` becomes Seedream group generation.
            body["sequential_image_generation"] = "auto"
            body["sequential_image_generation_options"] = {"max_images": req.n}
        body["stream"] = stream
        return body

    def _request(self, body: dict[str, Any], route: Route) -> UpstreamRequest:
        headers = extra_headers(route)
        headers["Content-Type"] = "application/json"
        if route.api_key is not None:
            headers["Authorization"] = f"Bearer {route.api_key.get_secret_value()}"
        base = route.provider.base_url or ARK_BASE
        return UpstreamRequest("POST", f"{base}/images/generations", headers, orjson.dumps(body))

    def to_upstream(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        return self._request(self._body(req, route, stream=False), route)

    def from_upstream(self, resp: UpstreamResponse, req: ImageRequest, route: Route) -> ImageResult:
        body = json_body(resp, route)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent no image data.")
        images = [img for item in body["data"] if isinstance(item, dict) and (img := _image(item))]
        raw = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        assert isinstance(raw, dict)
        usage = Usage(
            output_tokens=int(raw.get("output_tokens") or 0),
            output_image_tokens=int(raw.get("output_tokens") or 0),
        )
        first = images[0] if images else None
        size = Size(first.width, first.height) if first and first.width else None
        return ImageResult(images=tuple(images), usage=usage, size=size)

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        err: dict[str, Any] = {}
        try:
            data = orjson.loads(resp.body)
            if isinstance(data, dict) and isinstance(data.get("error"), dict):
                err = data["error"]
        except orjson.JSONDecodeError:
            pass
        return ark_error(resp.status, err, route, resp.headers)

    def stream_request(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        upstream = self._request(self._body(req, route, stream=True), route)
        upstream.headers["Accept"] = "text/event-stream"
        return upstream

    def parse_event(self, event: SseEvent, req: ImageRequest, route: Route) -> list[StreamEvent]:
        if event.data.strip() == "[DONE]":
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse(f"The upstream of {route.name} sent a bad event.") from None
        if not isinstance(data, dict):
            return []
        kind = str(data.get("type") or event.event)
        if kind == "image_generation.partial_succeeded":
            image = _image(data)
            if image is None:
                return []
            index = int(data.get("image_index") or 0)
            return [CompletedImage(image=image, size=data.get("size"), image_index=index)]
        if kind == "image_generation.partial_failed":
            return []  # one member of a group failed; the others still count
        if kind == "error" or (isinstance(data.get("error"), dict) and "type" not in data):
            raise ark_error(502, data.get("error") or {}, route)
        return []


def ark_error(
    status: int, err: dict[str, Any], route: Route, headers: dict[str, str] | None = None
) -> GatewayError:
    code = str(err.get("code") or "")
    message = str(err.get("message") or "")
    if status in (401, 403):
        return UpstreamAuthError(
            f"The upstream rejected the credentials of deployment {route.name} "
            f"(HTTP {status}); the gateway operator has to fix them."
        )
    if status == 429:
        return UpstreamRateLimited(
            f"The upstream of {route.name} is rate limiting; try again later.",
            retry_after=retry_after(headers or {}),
        )
    if "SensitiveContentDetected" in code:
        return ContentPolicyError(message or "Rejected by the upstream's content check.", code=code)
    if status == 400:
        param = err.get("param") if isinstance(err.get("param"), str) else None
        if param:
            return InvalidParameter(message or "The upstream refused a parameter.", param=param)
        return RequestError(message or "The upstream refused the request.", code=code or None)
    if status == 503:
        return UpstreamUnavailable(f"The upstream of {route.name} is overloaded (HTTP 503).")
    return UpstreamError(f"The upstream of {route.name} failed ({code or 'HTTP ' + str(status)}).")
