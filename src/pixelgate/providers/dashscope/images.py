"""DashScope sync image generation: `POST {base}/services/aigc/multimodal-generation/
generation` (wan2.6-t2i, wan2.6-image, wan2.7-image(-pro), qwen-image(-plus/-max/-edit…)).

Example request::

    POST https://dashscope.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation
    Authorization: Bearer sk-...
    {"model": "wan2.7-image-pro",
     "input": {"messages": [{"role": "user", "content": [{"text": "A flower shop"}]}]},
     "parameters": {"size": "2K", "n": 1, "watermark": false}}

Example response::

    {"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant",
       "content": [{"image": "https://dashscope-result.oss.../x.png?Expires=...",
                    "type": "image"}]}}], "finished": true},
     "usage": {"image_count": 1, "size": "2048*2048"}, "request_id": "..."}

A request that arrived as a DashScope body is forwarded as it came (model id rewritten,
`parameters` always present); a canonical request is translated: images first as data URLs,
then the prompt, with `size` as `W*H`. Result links expire in 24 h, so the pipeline fetches
them at once.
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
from pixelgate.errors import GatewayError, UpstreamBadResponse
from pixelgate.providers.base import Route, UpstreamRequest, UpstreamResponse, json_body
from pixelgate.providers.dashscope.errors import (
    dashscope_error,
    error_in_body,
    map_dashscope_error,
)
from pixelgate.providers.openai.endpoint import extra_headers

__all__ = [
    "DASHSCOPE_BASE",
    "DASHSCOPE_PARAMETERS",
    "DashScopeImagesAdapter",
    "data_url",
    "request_headers",
]

DASHSCOPE_BASE = "https://dashscope.aliyuncs.com/api/v1"
SYNC_PATH = "/services/aigc/multimodal-generation/generation"
# Client fields that are DashScope `parameters` when a canonical request is translated.
DASHSCOPE_PARAMETERS = (
    "negative_prompt",
    "prompt_extend",
    "watermark",
    "thinking_mode",
    "bbox_list",
    "enable_sequential",
    "seed",
    "color_palette",
)


def data_url(item: ImageInput) -> str:
    assert item.data is not None
    fmt = sniff_format(item.data[:16]) or ImageFormat.PNG
    return f"data:{fmt.mime};base64,{base64.b64encode(item.data).decode()}"


def request_headers(route: Route) -> dict[str, str]:
    headers = extra_headers(route)
    headers["Content-Type"] = "application/json"
    if route.api_key is not None:
        headers["Authorization"] = f"Bearer {route.api_key.get_secret_value()}"
    return headers


def translate(req: ImageRequest, model: str) -> dict[str, Any]:
    """Canonical request → DashScope body."""
    content: list[dict[str, Any]] = [{"image": data_url(i)} for i in req.images]
    content.append({"text": req.prompt})
    params: dict[str, Any] = {k: req.native[k] for k in DASHSCOPE_PARAMETERS if k in req.native}
    params["n"] = req.n
    if req.size is not None:
        params["size"] = f"{req.size.width}*{req.size.height}"
    elif req.resolution:
        params["size"] = req.resolution.upper()
    if req.negative_prompt is not None:
        params["negative_prompt"] = req.negative_prompt
    if req.seed is not None:
        params["seed"] = req.seed
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": content}]},
        "parameters": params,
    }


def native_body(native: dict[str, Any], model: str) -> dict[str, Any]:
    """A DashScope body forwarded as it came: only the model id changes."""
    body = dict(native)
    body["model"] = model
    if not isinstance(body.get("parameters"), dict):
        body["parameters"] = {}
    return body


def parse_images(body: dict[str, Any]) -> tuple[list[GeneratedImage], str | None]:
    images: list[GeneratedImage] = []
    texts: list[str] = []
    raw = body.get("output")
    output: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for choice in output.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        for item in (message or {}).get("content") or []:
            if isinstance(item, dict) and isinstance(item.get("image"), str):
                images.append(GeneratedImage(None, ImageFormat.PNG, url=item["image"]))
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                texts.append(item["text"])
    for result in output.get("results") or []:  # async task results
        if isinstance(result, dict) and isinstance(result.get("url"), str):
            images.append(GeneratedImage(None, ImageFormat.PNG, url=result["url"]))
    return images, "\n".join(texts) or None


def parse_usage(raw: Any) -> tuple[Usage | None, Size | None]:
    if not isinstance(raw, dict):
        return None, None
    size = None
    if isinstance(raw.get("size"), str):
        try:
            size = Size.parse(raw["size"])
        except GatewayError:
            size = None
    elif isinstance(raw.get("width"), int) and isinstance(raw.get("height"), int):
        size = Size(raw["width"], raw["height"])
    usage = Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        output_image_tokens=int(raw.get("output_tokens") or 0),
    )
    return usage, size


class DashScopeImagesAdapter:
    def to_upstream(self, req: ImageRequest, route: Route) -> UpstreamRequest:
        if req.protocol == "dashscope":
            body = native_body(req.native, route.upstream_model)
        else:
            body = translate(req, route.upstream_model)
        base = route.provider.base_url or DASHSCOPE_BASE
        return UpstreamRequest("POST", base + SYNC_PATH, request_headers(route), orjson.dumps(body))

    def from_upstream(self, resp: UpstreamResponse, req: ImageRequest, route: Route) -> ImageResult:
        body = json_body(resp, route)
        failure = error_in_body(body)
        if failure is not None:
            raise dashscope_error(resp.status, failure[0], failure[1], route)
        if not isinstance(body, dict):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent no output.")
        images, text = parse_images(body)
        usage, size = parse_usage(body.get("usage"))
        if size is not None:
            images = [
                GeneratedImage(i.data, i.fmt, size.width, size.height, url=i.url) for i in images
            ]
        native = body if req.protocol == "dashscope" else None
        return ImageResult(
            images=tuple(images), usage=usage, size=size, text=text, native_body=native
        )

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        return map_dashscope_error(resp, route)
