"""OpenAI Images adapter: `POST {base}/images/generations` (JSON), `/images/edits` and
`/images/variations` (multipart), for OpenAI, Azure OpenAI and OpenAI-compatible servers.

Example request::

    POST https://api.openai.com/v1/images/generations
    Authorization: Bearer sk-...
    {"model": "gpt-image-1", "prompt": "A watercolor fox", "size": "1536x1024",
     "quality": "medium", "output_format": "webp"}

Example response::

    {"created": 1713833628, "data": [{"b64_json": "UklGRl4..."}], "background": "opaque",
     "output_format": "webp", "quality": "medium", "size": "1536x1024",
     "usage": {"input_tokens": 12, "input_tokens_details": {"text_tokens": 12,
               "image_tokens": 0}, "output_tokens": 1568, "output_tokens_details":
               {"image_tokens": 1568, "text_tokens": 0}, "total_tokens": 1580}}

The body sent upstream is the client's own fields after the model contract filtered them
(`ImageRequest.upstream_params`), with the deployment's model id; base64 images are passed
on as text, never decoded here.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from pixelgate.core.b64 import B64Text, RawB64
from pixelgate.core.models import (
    GeneratedImage,
    ImageFormat,
    ImageRequest,
    ImageResult,
    Operation,
    Size,
    Usage,
    sniff_format,
)
from pixelgate.core.streaming import CompletedImage, PartialImage, SseEvent, StreamEvent
from pixelgate.errors import GatewayError, UpstreamBadResponse
from pixelgate.http.bigjson import loads_lifting
from pixelgate.http.multipart import FilePart, encode_multipart
from pixelgate.providers.base import Route, UpstreamRequest, UpstreamResponse
from pixelgate.providers.openai.endpoint import Endpoint
from pixelgate.providers.openai.errors import POLICY_CODES, map_openai_error

__all__ = ["OpenAIImagesAdapter", "parse_usage", "strip_data_prefix"]

_OPERATION_PATH = {
    Operation.GENERATE: "generations",
    Operation.IMAGE_TO_IMAGE: "edits",
    Operation.EDIT: "edits",
    Operation.VARIATION: "variations",
}


def strip_data_prefix(b64: str) -> str:
    """Some servers put a data-URL prefix on b64_json; the gateway wants bare base64."""
    if b64.startswith("data:"):
        return b64.partition(",")[2]
    return b64


def _b64_format(b64: B64Text) -> ImageFormat | None:
    try:
        head = base64.b64decode(b64[:24] if isinstance(b64, str) else b64.head(24))
    except (binascii.Error, ValueError):
        return None
    return sniff_format(head)


def _size(value: Any) -> Size | None:
    if isinstance(value, str) and "x" in value:
        try:
            return Size.parse(value)
        except GatewayError:
            return None
    return None


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    inp = raw.get("input_tokens_details") or {}
    out = raw.get("output_tokens_details") or {}
    output_tokens = int(raw.get("output_tokens") or 0)
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        input_text_tokens=int(inp.get("text_tokens") or 0),
        input_image_tokens=int(inp.get("image_tokens") or 0),
        output_tokens=output_tokens,
        output_image_tokens=int(out.get("image_tokens", output_tokens) or 0),
        output_text_tokens=int(out.get("text_tokens") or 0),
    )


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class OpenAIImagesAdapter:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def _fields(self, req: ImageRequest, route: Route) -> dict[str, Any]:
        fields = dict(req.upstream_params)
        fields["model"] = route.upstream_model
        return fields

    def to_upstream(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        url = self.endpoint.url(route, _OPERATION_PATH[req.operation])
        headers = self.endpoint.headers(route)
        fields = self._fields(req, route)
        if req.operation is Operation.GENERATE:
            headers["Content-Type"] = "application/json"
            content = orjson.dumps(fields)
        else:
            content, ctype = self._multipart(req, fields)
            headers["Content-Type"] = ctype
        return UpstreamRequest("POST", url, headers, content, self.endpoint.params(route))

    def _multipart(self, req: ImageRequest, fields: dict[str, Any]) -> tuple[bytes, str]:
        scalars = [(k, _form_value(v)) for k, v in fields.items() if v is not None]
        files = []
        name = "image" if len(req.images) == 1 else "image[]"
        for i, item in enumerate(req.images):
            assert item.data is not None
            fmt = sniff_format(item.data[:16]) or ImageFormat.PNG
            files.append(FilePart(name, f"image-{i}.{fmt.value}", fmt.mime, item.data))
        if req.mask is not None and req.mask.data is not None:
            files.append(FilePart("mask", "mask.png", "image/png", req.mask.data))
        return encode_multipart(scalars, files)

    def from_upstream(self, resp: UpstreamResponse, req: ImageRequest, route: Route) -> ImageResult:
        try:
            # The base64 images skip the JSON parser and stay where they are in the answer
            # (see http/bigjson.py).
            body = loads_lifting(resp.body, "b64_json", raw=True)
        except orjson.JSONDecodeError:
            raise UpstreamBadResponse(f"The upstream of {route.name} sent invalid JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent no image data.")
        echoed = _size(body.get("size"))
        size = echoed or req.size
        declared = body.get("output_format")
        fallback = ImageFormat.parse(declared) if isinstance(declared, str) else ImageFormat.PNG
        images = [self._image(item, fallback, size) for item in body["data"]]
        return ImageResult(
            images=tuple(images),
            usage=parse_usage(body.get("usage")),
            size=echoed,
            quality=body.get("quality") if isinstance(body.get("quality"), str) else None,
            background=body.get("background") if isinstance(body.get("background"), str) else None,
            output_format=fallback if isinstance(declared, str) else None,
        )

    @staticmethod
    def _image(item: Any, fallback: ImageFormat, size: Size | None) -> GeneratedImage:
        if not isinstance(item, dict):
            raise UpstreamBadResponse("The upstream sent a malformed image entry.")
        width, height = (size.width, size.height) if size else (0, 0)
        revised = (
            item.get("revised_prompt") if isinstance(item.get("revised_prompt"), str) else None
        )
        b64 = item.get("b64_json")
        if isinstance(b64, RawB64) and b64:
            fmt = _b64_format(b64) or fallback
            return GeneratedImage(None, fmt, width, height, revised_prompt=revised, b64=b64)
        if isinstance(b64, str) and b64:
            b64 = strip_data_prefix(b64)
            fmt = _b64_format(b64) or fallback
            return GeneratedImage(None, fmt, width, height, revised_prompt=revised, b64=b64)
        url = item.get("url")
        if isinstance(url, str) and url:
            return GeneratedImage(None, fallback, width, height, url=url, revised_prompt=revised)
        raise UpstreamBadResponse("The upstream sent an image entry with neither data nor URL.")

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        return map_openai_error(resp, route)

    # Streaming (GPT image models): SSE events relayed as they arrive.

    def stream_request(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        upstream = self.to_upstream(req, route)
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
        if "error" in data or kind == "error":
            raw = data.get("error")
            err: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
            status = 400 if err.get("code") in POLICY_CODES else 502
            raise map_openai_error(
                UpstreamResponse(status, {}, orjson.dumps({"error": err})), route
            )
        b64 = data.get("b64_json")
        if not isinstance(b64, str):
            return []
        b64 = strip_data_prefix(b64)
        if kind.endswith(".partial_image"):
            return [PartialImage(b64, int(data.get("partial_image_index") or 0))]
        if kind.endswith(".completed"):
            declared = data.get("output_format")
            fmt = _b64_format(b64) or (
                ImageFormat.parse(declared) if isinstance(declared, str) else ImageFormat.PNG
            )
            size = _size(data.get("size")) or req.size
            width, height = (size.width, size.height) if size else (0, 0)
            return [
                CompletedImage(
                    image=GeneratedImage(None, fmt, width, height, b64=b64),
                    usage=parse_usage(data.get("usage")),
                    size=data.get("size") if isinstance(data.get("size"), str) else None,
                    quality=data.get("quality") if isinstance(data.get("quality"), str) else None,
                    background=data.get("background")
                    if isinstance(data.get("background"), str)
                    else None,
                    output_format=fmt,
                )
            ]
        return []
