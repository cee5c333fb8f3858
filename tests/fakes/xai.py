"""Fake xAI image upstream (ASGI) speaking the real REST protocol (protocol doc §4), for tests.

Endpoints (auth `Authorization: Bearer <key>`, JSON only, OpenAI-SDK compatible base `/v1`):
  POST /v1/images/generations   model, prompt, n 1-10, response_format url|b64_json,
                                aspect_ratio, resolution 1k|2k, quality (grok-imagine-image-2.0)
  POST /v1/images/edits         as above plus `image: {url}` XOR `images: [{url}, ...]` (<= 3)
                                and optional `mask: {url}`; url = https URL or data: URI
  GET  /fake-files/{id}.jpeg    the image behind a `url` answer (temporary like xAI's)

Example::

    POST /v1/images/generations {"model": "grok-imagine-image", "prompt": "London in stencil",
                                 "n": 2, "aspect_ratio": "16:9", "resolution": "2k",
                                 "response_format": "b64_json"}
    200 {"data": [{"b64_json": "/9j/4AAQ...", "mime_type": "image/jpeg"}, {...}],
         "usage": {"cost_in_usd_ticks": 400000000}}

Errors: xAI's body is `{"code": "<status>", "error": "<message>"}` (not OpenAI's envelope),
e.g. 400 `{"code": "400", "error": "Argument not supported: size"}`. A wrong key is a 400
"Incorrect API key provided: xa***yz. ..." (as seen in public issue logs). JSON that does not
fit the schema (missing `prompt`, wrong types) is a 422 plain-text "Failed to deserialize the
JSON body into the target type: ..." (seen from api.x.ai for a missing prompt); invalid JSON
syntax is a 400 plain-text "Failed to parse the request body as JSON: ..."; a non-JSON
Content-Type is a 415 plain-text answer. Unknown model -> 404.

State knobs (XaiFakeState): `api_keys`, `faults`, `requests` (RecordedRequest with data: URIs
shortened), `moderation_block_words`, `models` (id -> XaiModel: imagine family, price, quality),
`default_aspect_ratio`, `input_image_price_usd`, `bad_key_status`, `files` (FileStore:
`expire_links`, `link_ttl_seconds`, own `faults`). Every API request is recorded, then meets
`faults`, then auth, Content-Type, JSON syntax, schema (422) and the rules (xai_rules.py).

UNCONFIRMED choices:
  * Default aspect_ratio "1:1" (`default_aspect_ratio`); "auto" renders 1:1. Output pixels:
    area ~ 1024^2 (1k) or 2048^2 (2k) at the requested ratio, both sides multiples of 16;
    legacy grok-2-image renders 1024x768. A single-image edit without aspect_ratio follows
    the input's ratio when the input is a data: URI (https URLs are not fetched).
  * `quality` is accepted only by models that honour it (grok-imagine-image-2.0); elsewhere,
    like size/style/background/output_format/output_compression/moderation/stream/
    partial_images/input_fidelity, it is "Argument not supported: <name>". Other unknown keys
    are ignored (serde default). aspect_ratio/resolution/edits on legacy models -> 400.
  * Missing Authorization is the same 400 as a wrong key (`bad_key_status` changes both).
  * A prompt containing one of `moderation_block_words` -> 400 with the xAI body (the real
    field carrying a moderation reason is unknown).
  * Prices per output image (`models`): imagine $0.02, -quality $0.05, -2.0 $0.02, -pro and
    grok-2-image $0.07; edits add `input_image_price_usd` ($0.002) per input image; usage is
    `cost_in_usd_ticks` (1e10 ticks = $1). Output is always JPEG; legacy adds revised_prompt.
  * Error `code` is the status as a string (as in 2026 image-endpoint issue logs); the doc's
    older chat sample used the gRPC wording "Client specified an invalid argument".
  * The 415 / 400 / 422 plain-text framework answers mimic axum's defaults (only the 422
    missing-`prompt` text was seen from xAI). Messages for range/enum errors are paraphrased.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .faults import FaultSwitch, drip, fault_response
from .images import image_bytes
from .openai import RecordedRequest, shorten_data_urls
from .openai_output import FileStore, file_route, json_response
from .xai_rules import XaiError, XaiJob, XaiModel, default_models, validate_xai

__all__ = ["XaiFakeState", "create_app", "xai_error_body"]


@dataclass
class XaiFakeState:
    api_keys: set[str] = field(default_factory=lambda: {"xai-test"})
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    requests: list[RecordedRequest] = field(default_factory=list)
    moderation_block_words: set[str] = field(default_factory=set)
    models: dict[str, XaiModel] = field(default_factory=default_models)
    default_aspect_ratio: str = "1:1"
    input_image_price_usd: float = 0.002
    bad_key_status: int = 400
    files: FileStore = field(default_factory=FileStore)


def xai_error_body(status: int, message: str) -> dict[str, Any]:
    return {"code": str(status), "error": message}


def _error(status: int, message: str) -> Response:
    return json_response(xai_error_body(status, message), status)


def _auth_error(request: Request, state: XaiFakeState) -> Response | None:
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if key and (not state.api_keys or key in state.api_keys):
        return None
    shown = f"{key[:2]}***{key[-2:]}" if key else ""
    msg = (
        f"Incorrect API key provided: {shown}. You can obtain an API key from https://console.x.ai."
    )
    return _error(state.bad_key_status, msg)


def _render(job: XaiJob) -> list[bytes]:
    colors = [(30 + 40 * i % 200, 90, 160, 255) for i in range(job.n)]
    return [image_bytes(job.width, job.height, "JPEG", color) for color in colors]


def _payload(job: XaiJob, blobs: list[bytes], base_url: str, state: XaiFakeState) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for blob in blobs:
        if job.response_format == "url":
            item = {"url": f"{base_url}fake-files/{state.files.add(blob, 'jpeg', 'image/jpeg')}"}
        else:
            item = {"b64_json": base64.b64encode(blob).decode("ascii")}
        item["mime_type"] = "image/jpeg"
        if not job.model.imagine:
            item["revised_prompt"] = f"{job.prompt}, in a detailed photographic style"
        data.append(item)
    usd = job.n * job.model.price_usd + job.inputs * state.input_image_price_usd
    return {"data": data, "usage": {"cost_in_usd_ticks": round(usd * 10_000_000_000)}}


def _deserialize_error(message: str, raw: bytes) -> Response:
    prefix = "Failed to deserialize the JSON body into the target type"
    text = f"{prefix}: {message} at line 1 column {len(raw)}"
    return PlainTextResponse(text, 422)


async def _handle(request: Request, state: XaiFakeState, op: str) -> Response:
    raw = await request.body()
    record = RecordedRequest(
        request.method, request.url.path, dict(request.query_params), dict(request.headers)
    )
    body: Any = None
    syntax_error: str | None = None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        syntax_error = str(exc)
    else:
        record.json = shorten_data_urls(body)
    state.requests.append(record)
    fault = state.faults.take()
    if (early := await fault_response(fault, state.faults, xai_error_body)) is not None:
        return early
    if (denied := _auth_error(request, state)) is not None:
        return denied
    if not request.headers.get("content-type", "").startswith("application/json"):
        return PlainTextResponse("Expected request with `Content-Type: application/json`", 415)
    if syntax_error is not None:
        return PlainTextResponse(f"Failed to parse the request body as JSON: {syntax_error}", 400)
    try:
        job = validate_xai(body, op, state.models, state.default_aspect_ratio)
    except XaiError as err:
        if err.status == 422:
            return _deserialize_error(err.message, raw)
        return _error(err.status, err.message)
    prompt = job.prompt.lower()
    if any(word.lower() in prompt for word in state.moderation_block_words):
        return _error(400, "Your request was rejected by content moderation.")
    blobs = await run_in_threadpool(_render, job)
    response = json_response(_payload(job, blobs, str(request.base_url), state))
    return drip(response, state.faults) if fault == "slow_drip" else response


def create_app(state: XaiFakeState) -> Starlette:
    async def generations(request: Request) -> Response:
        return await _handle(request, state, "generate")

    async def edits(request: Request) -> Response:
        return await _handle(request, state, "edit")

    routes = [
        Route("/v1/images/generations", generations, methods=["POST"]),
        Route("/v1/images/edits", edits, methods=["POST"]),
        file_route(lambda: state.files),
    ]
    return Starlette(routes=routes)
