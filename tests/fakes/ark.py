"""Fake Volcengine Ark image upstream (Seedream / SeedEdit), speaking the real wire protocol.

Endpoint (base `{fake}/api/v3`, what `Ark(base_url=...)` takes):
  POST /images/generations   sync JSON, or SSE when "stream": true
Plus, outside the protocol: GET /tos/{key}.{jpeg|png} serves result images (403 like an expired
signed link when `expire_urls`), GET /_fake/img/{W}x{H}.{png|jpg|webp|bmp} serves input images.

Models (an optional `doubao-` prefix is accepted; `endpoints` maps `ep-...` ids to models):
  seedream-4-0-250828, seedream-4-5-251128, seedream-5-0-260128 (= seedream-5-0-lite-260128),
  seededit-3-0-i2i-250628, seedream-3-0-t2i-250415.

Example:
  POST /api/v3/images/generations
  Authorization: Bearer ark-fake-key
  {"model": "doubao-seedream-4-0-250828", "prompt": "a cat", "size": "2K",
   "sequential_image_generation": "disabled", "response_format": "url", "watermark": false}
  -> 200 {"model": "doubao-seedream-4-0-250828", "created": 1757321139, "data": [{"url":
     "http://127.0.0.1:PORT/tos/KEY.jpeg?X-Tos-Expires=86400&...", "size": "2048x2048"}],
     "usage": {"generated_images": 1, "output_tokens": 16384, "total_tokens": 16384}}
  Stream: `event: image_generation.partial_succeeded|partial_failed` frames per image, then
  `event: image_generation.completed` with usage, then `data: [DONE]` (single-line JSON).
Errors: `{"error": {"code", "message": "... Request id: {id}", "param", "type"}}` with header
`x-request-id`; 400 MissingParameter / InvalidParameter / InputTextSensitiveContentDetected,
401 AuthenticationError, 404 InvalidEndpointOrModel.NotFound; validation errors of a stream
request are plain JSON, never SSE.

UNCONFIRMED choices:
  * Pixel bounds (doc §2.2 [3P], seed 001): 4.0 WxH 921600..16777216 px; 4.5 / 5.0 WxH
    3686400..16777216 px; aspect 1:16..16:1; 3.0-t2i each side 512..2048. Tiers are square
    (the real service infers the aspect from the prompt): 1K=1024, 2K=2048, 3K=3072, 4K=4096.
  * SeedEdit accepts only size "adaptive" (the default) and outputs the input image's size.
  * `sequential_image_generation: "auto"` always yields max_images (default 15) images, capped so
    reference images + outputs <= 15; 3.0-t2i / SeedEdit reject "auto" and "stream": true.
  * seed / guidance_scale are range-checked for every model and otherwise ignored on 4.x/5.0.
  * optimize_prompt_options.mode "fast" only on 4.0; output_format "png" honoured on 5.0 only.
  * `n` and unknown fields are ignored; JSON nulls (sent by the SDK) count as absent.
  * Input images: URL or `data:image/<lowercase fmt>;base64,...`; 4.x/5.0 take 0..14
    (jpeg/png/webp/bmp/tiff/gif, aspect <= 16), SeedEdit exactly 1 (jpeg/png, aspect <= 3),
    3.0-t2i none; sides > 14 px, <= 10 MB, <= 36 MP. Failures: 400 InvalidParameter, param
    "image".
  * Per-image failures (`fail_image_indexes`): non-stream data[] element {"error": {...}},
    stream `partial_failed`; code OutputImageSensitiveContentDetected.
  * Unknown model: 404 InvalidEndpointOrModel.NotFound. Fault bodies: 429 RateLimitExceeded,
    500/502 InternalServiceError, 503 ServerOverloaded.
  * Expired link: 403 application/xml with Code AccessDenied "Request has expired".
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.dashscope_media import (
    InputImage,
    MediaError,
    RecordedRequest,
    encoded_image,
    load_image,
    redact,
    serve_asset,
    xml_error,
)
from tests.fakes.faults import FaultSwitch, drip, fault_response

__all__ = ["MODELS", "ArkFakeState", "SeedreamSpec", "create_app"]

Size = tuple[int, int]
_WIDE = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"})
_NARROW = frozenset({"JPEG", "PNG"})
_WXH = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_FAULTS = {
    401: ("AuthenticationError", "Unauthorized"),
    403: ("AccessDenied", "Forbidden"),
    429: ("RateLimitExceeded", "TooManyRequests"),
    503: ("ServerOverloaded", "ServiceUnavailable"),
}


@dataclass(frozen=True)
class SeedreamSpec:
    tiers: dict[str, int]  # size keyword -> square side
    min_px: int
    max_px: int
    default_size: str
    refs: tuple[int, int]  # allowed number of reference images
    formats: frozenset[str]
    ref_ratio: float
    group: bool  # sequential generation and streaming
    side_bounds: tuple[int, int] | None = None
    output_formats: frozenset[str] = frozenset({"jpeg"})
    fast_mode: bool = False


_V45 = SeedreamSpec(
    {"2K": 2048, "4K": 4096}, 3686400, 16777216, "2048x2048", (0, 14), _WIDE, 16, True
)
_V50 = SeedreamSpec(
    {"2K": 2048, "3K": 3072, "4K": 4096},
    3686400,
    16777216,
    "2048x2048",
    (0, 14),
    _WIDE,
    16,
    True,
    output_formats=frozenset({"jpeg", "png"}),
)
MODELS: dict[str, SeedreamSpec] = {
    "seedream-4-0-250828": SeedreamSpec(
        {"1K": 1024, "2K": 2048, "4K": 4096},
        921600,
        16777216,
        "2048x2048",
        (0, 14),
        _WIDE,
        16,
        True,
        fast_mode=True,
    ),
    "seedream-4-5-251128": _V45,
    "seedream-5-0-260128": _V50,
    "seedream-5-0-lite-260128": _V50,
    "seededit-3-0-i2i-250628": SeedreamSpec({}, 0, 0, "adaptive", (1, 1), _NARROW, 3, False),
    "seedream-3-0-t2i-250415": SeedreamSpec(
        {}, 0, 0, "1024x1024", (0, 0), _NARROW, 3, False, side_bounds=(512, 2048)
    ),
}


@dataclass
class ArkFakeState:
    api_keys: set[str] = field(default_factory=lambda: {"ark-fake-key"})
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    download_faults: FaultSwitch = field(default_factory=FaultSwitch)
    requests: list[RecordedRequest] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)  # "ep-..." -> model id
    expire_urls: bool = False
    blocked_words: list[str] = field(default_factory=lambda: ["[blocked]"])
    fail_image_indexes: set[int] = field(default_factory=set)
    stream_delay: float = 0.0  # seconds between SSE events
    fetch_timeout: float = 5.0
    generations: int = 0  # answered generation calls
    downloads: int = 0
    images: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # key -> w, h, fmt


class ArkError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


def _invalid(param: str, detail: str) -> ArkError:
    message = f"The parameter `{param}` specified in the request is not valid: {detail}."
    return ArkError(400, "InvalidParameter", message, param)


def _request_id() -> str:
    return f"02{int(time.time() * 1000)}{uuid.uuid4().hex}"[:53]


def _error_json(status: int, code: str, message: str, param: str, rid: str) -> dict[str, Any]:
    kind = {400: "BadRequest", 404: "NotFound"}.get(status) or _FAULTS.get(status, ("", ""))[1]
    error = {"code": code, "message": f"{message} Request id: {rid}", "param": param}
    return {"error": {**error, "type": kind or "InternalServerError"}}


def _fault_body(status: int, message: str) -> dict[str, Any]:
    code = _FAULTS.get(status, ("InternalServiceError", ""))[0]
    return _error_json(status, code, message, "", _request_id())


def _json(body: dict[str, Any], rid: str, status: int = 200) -> Response:
    headers = {"x-request-id": rid}
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """An optional field (JSON null = absent) that must have the given type; bool is no int."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _invalid(name, "wrong type")
    return value


def _plan_size(spec: SeedreamSpec, size: str | None, refs: list[InputImage]) -> Size:
    size = size or spec.default_size
    if spec.default_size == "adaptive":
        if size != "adaptive":
            raise _invalid("size", "only adaptive is supported by this model")
        return refs[0].width, refs[0].height
    if size in spec.tiers:
        return spec.tiers[size], spec.tiers[size]
    match = _WXH.match(size)
    if match is None:
        raise _invalid("size", f"{size} is neither one of {sorted(spec.tiers)} nor WxH")
    w, h = int(match[1]), int(match[2])
    if spec.side_bounds is not None:
        lo, hi = spec.side_bounds
        if not (lo <= w <= hi and lo <= h <= hi):
            raise _invalid("size", f"width and height must be within [{lo}, {hi}]")
        return w, h
    if not spec.min_px <= w * h <= spec.max_px or max(w, h) / min(w, h) > 16:
        raise _invalid(
            "size", f"total pixels must be in [{spec.min_px}, {spec.max_px}], aspect within 1:16"
        )
    return w, h


def _check_refs(spec: SeedreamSpec, refs: list[str], images: list[InputImage]) -> None:
    for ref in refs:
        mime = ref.split(";", 1)[0]
        if ref.startswith("data:") and (mime != mime.lower() or not mime.startswith("data:image/")):
            raise _invalid("image", "data URI must be data:image/<lowercase format>;base64,...")
    for img in images:
        if img.fmt not in spec.formats:
            raise _invalid("image", f"unsupported image format {img.fmt or 'unknown'}")
        if min(img.width, img.height) <= 14 or img.width * img.height > 36_000_000:
            raise _invalid("image", "image sides must exceed 14 px and total at most 36000000 px")
        if max(img.width, img.height) / min(img.width, img.height) > spec.ref_ratio:
            raise _invalid("image", f"image aspect ratio must be within 1:{spec.ref_ratio:g}")
        if img.nbytes > 10 * 1024 * 1024:
            raise _invalid("image", "image exceeds 10 MB")


def create_app(state: ArkFakeState) -> Starlette:
    async def validate(body: Any) -> tuple[str, int, Size, str, str]:
        """Returns (model echo, image count, size, response_format, output format)."""
        if not isinstance(body, dict):
            raise ArkError(400, "InvalidParameter", "The request body is not valid JSON.")
        for name in ("model", "prompt"):
            if not isinstance(body.get(name), str) or not body[name]:
                message = f"The request failed because it is missing the parameter `{name}`."
                raise ArkError(400, "MissingParameter", message, name)
        model: str = body["model"]
        spec = MODELS.get(state.endpoints.get(model, model).removeprefix("doubao-"))
        if spec is None:
            message = (
                f"The model or endpoint {model} does not exist or you do not have access to it."
            )
            raise ArkError(404, "InvalidEndpointOrModel.NotFound", message, "model")
        response_format = _field(body, "response_format", str) or "url"
        if response_format not in ("url", "b64_json"):
            raise _invalid("response_format", "must be url or b64_json")
        seed, guidance = _field(body, "seed", int), _field(body, "guidance_scale", (int, float))
        if seed is not None and not -1 <= seed <= 2147483647:
            raise _invalid("seed", "must be in [-1, 2147483647]")
        if guidance is not None and not 1 <= guidance <= 10:
            raise _invalid("guidance_scale", "must be in [1, 10]")
        _field(body, "watermark", bool)
        sequential = _field(body, "sequential_image_generation", str) or "disabled"
        options = _field(body, "sequential_image_generation_options", dict) or {}
        max_images = 15 if options.get("max_images") is None else options["max_images"]
        if sequential not in ("auto", "disabled") or (sequential == "auto" and not spec.group):
            raise _invalid("sequential_image_generation", "unsupported value for this model")
        if (
            isinstance(max_images, bool)
            or not isinstance(max_images, int)
            or not 1 <= max_images <= 15
        ):
            raise _invalid("sequential_image_generation_options.max_images", "must be in [1, 15]")
        if _field(body, "stream", bool) and not spec.group:
            raise _invalid("stream", "streaming is not supported by this model")
        mode = (_field(body, "optimize_prompt_options", dict) or {}).get("mode") or "standard"
        if mode not in ("standard", "fast") or (mode == "fast" and not spec.fast_mode):
            raise _invalid("optimize_prompt_options.mode", f"{mode} is not supported")
        out_fmt = _field(body, "output_format", str) or "jpeg"
        if out_fmt not in ("jpeg", "png"):
            raise _invalid("output_format", "must be jpeg or png")
        raw_refs = _field(body, "image", (str, list))
        refs = [raw_refs] if isinstance(raw_refs, str) else list(raw_refs or [])
        if not all(isinstance(r, str) and r for r in refs):
            raise _invalid("image", "each image must be a URL or data URI string")
        if not spec.refs[0] <= len(refs) <= spec.refs[1]:
            raise _invalid("image", f"this model takes {spec.refs[0]} to {spec.refs[1]} images")
        if any(word in body["prompt"] for word in state.blocked_words):
            message = "The request failed because the input text may contain sensitive information."
            raise ArkError(400, "InputTextSensitiveContentDetected", message, "prompt")
        try:
            timeout = state.fetch_timeout
            images = list(await asyncio.gather(*(load_image(r, timeout) for r in refs)))
        except MediaError as exc:
            raise _invalid("image", f"failed to fetch resource ({exc})") from exc
        _check_refs(spec, refs, images)
        size = _plan_size(spec, _field(body, "size", str), images)
        count = min(max_images, 15 - len(refs)) if sequential == "auto" else 1
        fmt = out_fmt if out_fmt in spec.output_formats else "jpeg"
        return model, max(count, 1), size, response_format, fmt

    def image_item(request: Request, size: Size, fmt: str, response_format: str) -> dict[str, Any]:
        w, h = size
        if response_format == "b64_json":
            encoded = base64.b64encode(encoded_image(w, h, fmt.upper())).decode("ascii")
            return {"b64_json": encoded, "size": f"{w}x{h}"}
        key = uuid.uuid4().hex
        state.images[key] = (w, h, fmt)
        sig = hashlib.sha256(key.encode()).hexdigest()
        query = (
            "X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=fake&X-Tos-Expires=86400"
            f"&X-Tos-Signature={sig}"
        )
        base = str(request.base_url).rstrip("/")
        return {"url": f"{base}/tos/{key}.{fmt}?{query}", "size": f"{w}x{h}"}

    def failure() -> dict[str, str]:
        message = "The request failed because the output image may contain sensitive information."
        return {"code": "OutputImageSensitiveContentDetected", "message": message}

    def usage(sizes: list[Size], tools: bool) -> dict[str, Any]:
        tokens = sum(w * h // 256 for w, h in sizes)
        out: dict[str, Any] = {
            "generated_images": len(sizes),
            "output_tokens": tokens,
            "total_tokens": tokens,
        }
        if tools:
            out["tool_usage"] = {"web_search": 0}
        return out

    async def generate(request: Request, body: Any, rid: str) -> Response:
        model, count, size, response_format, fmt = await validate(body)
        state.generations += 1
        created, tools = int(time.time()), bool(body.get("tools"))
        ok = [i for i in range(count) if i not in state.fail_image_indexes]
        extra = {"output_format": fmt} if "seedream-5-0" in model or fmt == "png" else {}
        if body.get("stream") is True:
            frames: list[bytes] = []
            for i in range(count):
                event: dict[str, Any] = {"model": model, "created": created, "image_index": i}
                if i in ok:
                    item = await asyncio.to_thread(image_item, request, size, fmt, response_format)
                    event = {"type": "image_generation.partial_succeeded", **event, **item}
                else:
                    event = {"type": "image_generation.partial_failed", **event, "error": failure()}
                frames.append(_sse(event))
            done = {"type": "image_generation.completed", "model": model, "created": created}
            frames += [_sse({**done, "usage": usage([size] * len(ok), tools)}), b"data: [DONE]\n\n"]
            return _Sse(frames, rid, state.stream_delay)
        data = [
            {**(await asyncio.to_thread(image_item, request, size, fmt, response_format)), **extra}
            if i in ok
            else {"error": failure()}
            for i in range(count)
        ]
        answer = {"model": model, "created": created, "data": data}
        return _json({**answer, "usage": usage([size] * len(ok), tools)}, rid)

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        record = RecordedRequest(
            request.method, request.url.path, dict(request.headers), redact(body)
        )
        state.requests.append(record)
        rid = _request_id()
        fault = state.faults.take()
        if (early := await fault_response(fault, state.faults, _fault_body)) is not None:
            return early
        try:
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:].strip() not in state.api_keys:
                message = "The API key or AK/SK in the request is missing or invalid."
                raise ArkError(401, "AuthenticationError", message)
            response = await generate(request, body, rid)
        except ArkError as err:
            response = _json(
                _error_json(err.status, err.code, err.message, err.param, rid), rid, err.status
            )
        if fault == "slow_drip":
            if isinstance(response, _Sse):
                response = Response(response.raw, media_type="text/event-stream")
            return drip(response, state.faults)
        return response

    async def serve_result(request: Request) -> Response:
        state.downloads += 1
        fault = state.download_faults.take()
        if (early := await fault_response(fault, state.download_faults, _fault_body)) is not None:
            return early
        key = request.path_params["name"].rsplit(".", 1)[0]
        if state.expire_urls:
            return xml_error(403, "AccessDenied", "Request has expired")
        if key not in state.images:
            return xml_error(404, "NoSuchKey", "The specified key does not exist.")
        w, h, fmt = state.images[key]
        data = await asyncio.to_thread(encoded_image, w, h, fmt.upper())
        response = Response(data, media_type=f"image/{fmt}")
        return drip(response, state.download_faults) if fault == "slow_drip" else response

    return Starlette(
        routes=[
            Route("/api/v3/images/generations", endpoint, methods=["POST"]),
            Route("/tos/{name}", serve_result, methods=["GET"]),
            Route("/_fake/img/{name}", serve_asset, methods=["GET"]),
        ]
    )


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class _Sse(StreamingResponse):
    """SSE answer that keeps its frames so a slow_drip fault can resend them byte by byte."""

    def __init__(self, frames: list[bytes], rid: str, delay: float) -> None:
        self.raw = b"".join(frames)

        async def emit() -> AsyncIterator[bytes]:
            for index, frame in enumerate(frames):
                if index and delay:
                    await asyncio.sleep(delay)
                yield frame

        headers = {"x-request-id": rid, "Cache-Control": "no-cache"}
        super().__init__(emit(), headers=headers, media_type="text/event-stream")
