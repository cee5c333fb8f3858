"""DashScope client dialect (seed 000's "passthrough" body): `{model, input: {messages},
parameters}` on `/v1/images/generations` (recognised by its shape) and on DashScope's own
path `/api/v1/services/aigc/multimodal-generation/generation`, so the official `dashscope`
SDK works with its base HTTP API URL set to the gateway.

To a DashScope deployment the body goes as it came and the upstream's JSON comes back as it
is (image links re-hosted when `defaults.rehost_upstream_urls` is on). To any other
deployment it is translated through the canonical form and the answer is rendered in
DashScope's shape: `output.choices[].message.content[].image`, `usage`, `request_id`.
Errors: `{"request_id", "code", "message"}`.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from pixelgate.core.models import ImageInput, ImageRequest, Operation, ResponseFormat, Size
from pixelgate.core.pipeline import ImageOutcome
from pixelgate.dialects.fields import parse_data_url
from pixelgate.errors import GatewayError, InvalidParameter

__all__ = ["NAME", "choices", "is_dashscope_body", "parse", "render", "render_error"]

NAME = "dashscope"


def is_dashscope_body(body: dict[str, Any]) -> bool:
    """The DashScope request shape: `input.messages` (seed 000's "passthrough" body)."""
    inp = body.get("input")
    return isinstance(inp, dict) and isinstance(inp.get("messages"), list)


def _content(body: dict[str, Any]) -> list[Any]:
    inp = body.get("input")
    messages = inp.get("messages") if isinstance(inp, dict) else None
    if not isinstance(messages, list) or not messages:
        raise InvalidParameter("input.messages must be a non-empty array.", param="input.messages")
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if isinstance(content, str):
        return [{"text": content}]
    if not isinstance(content, list):
        raise InvalidParameter(
            "input.messages[].content must be an array of {text} and {image} items.",
            param="input.messages",
        )
    return content


def parse(body: dict[str, Any], keep_upstream_urls: bool) -> ImageRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidParameter("model is required.", param="model")
    texts: list[str] = []
    images: list[ImageInput] = []
    for item in _content(body):
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif isinstance(item, dict) and isinstance(item.get("image"), str):
            images.append(parse_data_url(item["image"], f"input.messages.content[{len(images)}]"))
    prompt = "\n".join(texts)
    if not prompt.strip():
        raise InvalidParameter("A text item with the prompt is required.", param="input.messages")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidParameter("parameters must be an object.", param="parameters")
    size = resolution = None
    raw_size = params.get("size")
    if isinstance(raw_size, str) and raw_size.strip():
        if raw_size.strip()[-1] in "kK":
            resolution = raw_size.strip().lower()
        else:
            size = Size.parse(raw_size, "parameters.size")
    n = params.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidParameter("parameters.n must be an integer.", param="parameters.n")
    seed = params.get("seed")
    negative = params.get("negative_prompt")
    return ImageRequest(
        model=model,
        prompt=prompt,
        operation=Operation.IMAGE_TO_IMAGE if images else Operation.GENERATE,
        n=n,
        size=size,
        resolution=resolution,
        negative_prompt=negative if isinstance(negative, str) and negative else None,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        response_format=ResponseFormat.URL,
        images=tuple(images),
        protocol=NAME,
        keep_upstream_urls=keep_upstream_urls,
        native=body,
    )


def choices(urls: list[str]) -> list[dict[str, Any]]:
    """DashScope's `output.choices`: one assistant message per image."""
    return [
        {
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": [{"image": u, "type": "image"}]},
        }
        for u in urls
    ]


def render(outcome: ImageOutcome, request_id: str) -> dict[str, Any]:
    result = outcome.result
    urls = [o.url for o in outcome.outputs if o.url]
    if result.native_body is not None:
        body = copy.deepcopy(result.native_body)
        links = iter(urls)
        for choice in body.get("output", {}).get("choices") or []:
            for item in (choice.get("message") or {}).get("content") or []:
                if isinstance(item, dict) and "image" in item:
                    item["image"] = next(links, item["image"])
        return body
    size = result.size or outcome.request.size
    return {
        "output": {
            "choices": choices(urls),
            "finished": True,
        },
        "usage": {
            "image_count": len(urls),
            "input_tokens": result.usage.input_tokens if result.usage else 0,
            "output_tokens": result.usage.output_tokens if result.usage else 0,
            "size": f"{size.width}*{size.height}" if size else "",
            "total_tokens": result.usage.total_tokens if result.usage else 0,
        },
        "request_id": request_id,
    }


def render_error(err: GatewayError) -> dict[str, Any]:
    code = {
        400: "InvalidParameter",
        401: "InvalidApiKey",
        402: "Arrearage",
        403: "AccessDenied",
        404: "ModelNotFound",
        413: "BadRequest.TooLarge",
        429: "Throttling",
    }.get(err.status, "InternalError")
    if err.error_code == "content_policy_violation" or "DataInspection" in err.error_code:
        code = "DataInspectionFailed"
    if err.error_code == "insufficient_quota":
        code = "Arrearage"
    message = err.message if not err.param else f"{err.message} ({err.param})"
    return {"request_id": str(uuid.uuid4()), "code": code, "message": message}
