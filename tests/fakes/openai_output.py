"""Answers of the OpenAI Images fake: real images (Pillow), `ImagesResponse` JSON, SSE events,
usage tokens, moderation errors, and the blob host that serves dall-e `url`s.

Shared by tests/fakes/openai.py, tests/fakes/azure.py and (FileStore, file_route) xai.py.
Token counts are plausible, not billed truth: gpt-image-1 family from the doc's 3P table
(§1.10), gpt-image-2 from the 3P community formula, input images 85 + 170 per 512px tile,
+100 output tokens per streamed partial image (all UNCONFIRMED).
"""

from __future__ import annotations

import asyncio
import base64
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .faults import FaultSwitch, drip, fault_response
from .images import image_bytes
from .openai_rules import ApiError, ImageInput, Job

__all__ = [
    "FileStore",
    "file_route",
    "json_response",
    "moderation_error",
    "openai_fault_body",
    "output_tokens",
    "render_images",
    "response_payload",
    "stream_events",
    "stream_response",
    "usage_for",
]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    hdrs = {"x-request-id": f"req_{secrets.token_hex(16)}", **(headers or {})}
    return Response(orjson.dumps(body), status, hdrs, media_type="application/json")


def openai_fault_body(status: int, message: str) -> dict[str, Any]:
    kind = {
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("invalid_request_error", "unsupported_country_region_territory"),
        429: ("requests", "rate_limit_exceeded"),
    }.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind[0], "param": None, "code": kind[1]}}


# --- images ------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _render(width: int, height: int, fmt: str, alpha: int, shade: int) -> bytes:
    color = (40 + 50 * (shade % 4), 120 + 30 * (shade % 3), 200 - 40 * (shade % 5), alpha)
    return image_bytes(width, height, fmt.upper(), color)


def render_images(job: Job, count: int, partial: bool = False) -> list[bytes]:
    """`count` encoded images of the job's size and format (partials get another shade)."""
    alpha = 0 if job.family.gpt and job.background == "transparent" else 255
    shade = 7 if partial else 0
    fmt = job.output_format
    return [_render(job.width, job.height, fmt, alpha, shade + i) for i in range(count)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- usage -------------------------------------------------------------------------------

_GPT1_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
_GPT2_Q = {"low": 16, "medium": 48, "high": 96, "xhigh": 128, "max": 160}
PARTIAL_IMAGE_TOKENS = 100


def output_tokens(job: Job) -> int:
    """Output image tokens for ONE image of this job."""
    quality = job.resolved_quality
    if not job.family.flexible:
        return _GPT1_TOKENS[quality][job.resolved_size]
    q = _GPT2_Q[quality]
    short, long = sorted((job.width, job.height))
    s = (2 * q * short + long) // (2 * long)
    return math.ceil(q * s * (2_000_000 + job.width * job.height) / 4_000_000)


def _input_image_tokens(img: ImageInput) -> int:
    w, h = float(img.width or 1024), float(img.height or 1024)
    scale = min(1.0, 2048 / max(w, h))
    w, h = w * scale, h * scale
    scale = min(1.0, 768 / min(w, h))
    return 85 + 170 * math.ceil(w * scale / 512) * math.ceil(h * scale / 512)


def usage_for(job: Job, images: int, partials: int = 0, with_input: bool = True) -> dict[str, Any]:
    text = max(1, math.ceil(len(job.prompt) / 4)) if with_input else 0
    image_in = sum(_input_image_tokens(i) for i in job.inputs) if with_input else 0
    out = output_tokens(job) * images + PARTIAL_IMAGE_TOKENS * partials
    return {
        "input_tokens": text + image_in,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens": out,
        "output_tokens_details": {"image_tokens": out, "text_tokens": 0},
        "total_tokens": text + image_in + out,
    }


# --- JSON and SSE answers ----------------------------------------------------------------


def response_payload(
    job: Job, finals: list[bytes], base_url: str, files: FileStore
) -> dict[str, Any]:
    """The `ImagesResponse` body (§1.4): GPT image -> b64 + echo + usage; dall-e -> url/b64."""
    created = int(time.time())
    if job.family.gpt:
        return {
            "created": created,
            "data": [{"b64_json": _b64(blob)} for blob in finals],
            "background": job.resolved_background,
            "output_format": job.output_format,
            "quality": job.resolved_quality,
            "size": job.resolved_size,
            "usage": usage_for(job, len(finals)),
        }
    data: list[dict[str, Any]] = []
    for blob in finals:
        if job.response_format == "url":
            item = {"url": f"{base_url}fake-files/{files.add(blob, 'png', 'image/png')}"}
        else:
            item = {"b64_json": _b64(blob)}
        if job.model == "dall-e-3":
            item["revised_prompt"] = f"{job.prompt}, rendered as a detailed {job.style} image"
        data.append(item)
    return {"created": created, "data": data}


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def stream_events(
    job: Job,
    finals: list[bytes],
    partials: list[bytes],
    error_after: int | None = None,
    done_marker: bool = False,
) -> list[bytes]:
    """SSE events (§1.7): per image its partials then `*.completed` (usage of that image)."""
    prefix = "image_generation" if job.op == "generate" else "image_edit"
    common = {
        "created_at": int(time.time()),
        "size": job.size,
        "quality": job.quality,
        "background": job.background,
        "output_format": job.output_format,
    }
    events: list[bytes] = []
    for i, final in enumerate(finals):
        for index, blob in enumerate(partials):
            kind = f"{prefix}.partial_image"
            body = {"type": kind, "b64_json": _b64(blob), **common, "partial_image_index": index}
            events.append(_sse(kind, body))
        usage = usage_for(job, 1, len(partials), with_input=i == 0)
        usage.pop("output_tokens_details")  # ImagesUsage in stream events has none
        kind = f"{prefix}.completed"
        events.append(_sse(kind, {"type": kind, "b64_json": _b64(final), **common, "usage": usage}))
    if error_after is not None:
        err = ApiError(500, "The server had an error while processing your request.")
        err.type = "server_error"
        events = [*events[:error_after], _sse("error", {"type": "error", **err.body()})]
    elif done_marker:
        events.append(b"data: [DONE]\n\n")
    return events


def stream_response(events: list[bytes], delay: float = 0.0) -> Response:
    async def gen() -> AsyncIterator[bytes]:
        for event in events:
            yield event
            if delay:
                await asyncio.sleep(delay)

    headers = {"x-request-id": f"req_{secrets.token_hex(16)}", "cache-control": "no-cache"}
    return StreamingResponse(gen(), media_type="text/event-stream", headers=headers)


def moderation_error(job: Job, words: set[str]) -> ApiError | None:
    """The safety-system 400 when the prompt contains a block word (case-insensitive)."""
    prompt = job.prompt.lower()
    hits = sorted(w for w in words if w.lower() in prompt)
    if not hits:
        return None
    if job.family.gpt:
        msg = (
            "Your request was rejected by the safety system. If you believe this is an error, "
            f"contact us at help.openai.com. safety_violations=[{', '.join(hits)}]."
        )
        return ApiError(400, msg, type="image_generation_user_error", code="moderation_blocked")
    msg = (
        "Your request was rejected as a result of our safety system. Your prompt may contain "
        "text that is not allowed by our safety system."
    )
    return ApiError(400, msg, code="content_policy_violation")


# --- blob host for url answers -----------------------------------------------------------


@dataclass
class FileStore:
    """Generated images served by URL; `expire_links` or age > ttl -> 403 like a signed URL."""

    expire_links: bool = False
    link_ttl_seconds: float = 3600.0
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    blobs: dict[str, tuple[bytes, str, float]] = field(default_factory=dict)

    def add(self, data: bytes, ext: str, media_type: str) -> str:
        name = f"img-{secrets.token_hex(8)}.{ext}"
        self.blobs[name] = (data, media_type, time.monotonic())
        return name


def _blob_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status, media_type="application/xml")


def file_route(files: Callable[[], FileStore]) -> Route:
    """GET /fake-files/{name}: the image, 404 BlobNotFound, or 403 once the link expired."""

    async def get_file(request: Request) -> Response:
        store = files()
        fault = store.faults.take()
        if (early := await fault_response(fault, store.faults, openai_fault_body)) is not None:
            return early
        entry = store.blobs.get(request.path_params["name"])
        if entry is None:
            return _blob_error(404, "BlobNotFound", "The specified blob does not exist.")
        data, media_type, created = entry
        if store.expire_links or time.monotonic() - created > store.link_ttl_seconds:
            msg = "Server failed to authenticate the request. Signed expiry time has passed."
            return _blob_error(403, "AuthenticationFailed", msg)
        response = Response(data, media_type=media_type)
        return drip(response, store.faults) if fault == "slow_drip" else response

    return Route("/fake-files/{name}", get_file, methods=["GET"])
