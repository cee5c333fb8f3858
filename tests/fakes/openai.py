"""Fake OpenAI Images upstream (ASGI) speaking the real wire protocol, for tests.

Endpoints (base `/v1`, auth `Authorization: Bearer <key>`; every response has `x-request-id`):
  POST /v1/images/generations   JSON; `stream: true` answers SSE (§1.7 of the protocol doc)
  POST /v1/images/edits         multipart (`image` | repeated `image[]`, `mask`) or JSON
                                (`images: [{image_url}|{file_id}]`, `mask: {...}`)
  POST /v1/images/variations    multipart, dall-e-2 only
  GET  /fake-files/{id}.png     the image behind a dall-e `url` (stands in for the blob host)
  anything else                 404 `{"error": {"message": "Invalid URL (POST /v1/...)", ...}}`

Example::

    POST /v1/images/generations  {"model": "gpt-image-1", "prompt": "a fox", "size": "1536x1024",
                                  "quality": "low", "output_format": "webp"}
    200 {"created": 1760000000, "data": [{"b64_json": "UklGR..."}], "background": "opaque",
         "output_format": "webp", "quality": "low", "size": "1536x1024",
         "usage": {"input_tokens": 2, "input_tokens_details": {"text_tokens": 2,
                   "image_tokens": 0}, "output_tokens": 400, "output_tokens_details":
                   {"image_tokens": 400, "text_tokens": 0}, "total_tokens": 402}}

Rules enforced (openai_rules.py; catalogue in openai_models.py): Bearer key; model known
(404 model_not_found) and valid for the endpoint; unknown or other-family parameters -> 400
`unknown_parameter`; prompt required, max 1000 / 4000 / 32000 chars; n 1-10, dall-e-3 n=1;
per-model size lists, gpt-image-2 flexible WxH (multiples of 16, edge <= 3840, ratio <= 3:1,
655,360-8,294,400 px); quality per family; `background: transparent` needs png/webp;
compression < 100 needs jpeg/webp; partial_images 0-3; edit inputs (GPT: png/jpeg/webp
< 50 MB, <= 16; dall-e-2: one square PNG < 4 MB with alpha unless masked); mask PNG with
alpha, < 4 MB, same size as the first image. A prompt containing one of
`moderation_block_words` -> 400 `moderation_blocked` (GPT image, type
`image_generation_user_error`) or `content_policy_violation` (dall-e). Answers, usage and the
blob host are in openai_output.py.

State knobs: `api_keys`, `faults`, `requests` (RecordedRequest: method, path, query, headers,
JSON body or form fields + file summaries), `moderation_block_words`, `models`,
`reject_response_format_for_gpt`, `partial_images_cap`, `stream_event_delay`,
`stream_done_marker`, `stream_error_after`, `files` (FileStore: `expire_links`,
`link_ttl_seconds`, its own `faults`). Every API request is recorded, then meets `faults`.

UNCONFIRMED choices (protocol doc §6 and guesses):
  * `response_format` sent to a GPT image model -> 400 `unknown_parameter` (set
    `reject_response_format_for_gpt = False` to ignore it instead); likewise `input_fidelity`
    on gpt-image-1-mini, `moderation` in multipart edits, `style` on dall-e-2.
  * Missing Authorization -> 401 with code null; wrong key -> 401 `invalid_api_key`. An empty
    `api_keys` set accepts any key.
  * Unknown model -> 404 `model_not_found`. Omitted model with a GPT-only field -> gpt-image-1.
  * Several files under plain `image` (no brackets) are accepted like `image[]`.
  * Remote `image_url`s and `file_id`s are not fetched (their dimensions are not checked).
  * "auto" resolves to 1024x1024, quality medium, background opaque; `size` echoes `WxH`.
  * Streams: each of the n images gets its partials then a `*.completed` event whose usage
    covers that image (input tokens on the first); events echo the requested (maybe "auto")
    size/quality/background; no `[DONE]` unless `stream_done_marker`; a mid-stream error is
    `event: error` + `{"type": "error", "error": {...}}`; +100 output tokens per partial.
  * Token counts: doc tables / 3P gpt-image-2 formula; input images 85 + 170 per 512px tile.
  * `output_compression` is validated and echoed but not applied to the returned bytes.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import ErrorBody, FaultSwitch, drip, fault_response
from .openai_models import DEFAULT_MODELS, Family
from .openai_output import (
    FileStore,
    file_route,
    json_response,
    moderation_error,
    openai_fault_body,
    render_images,
    response_payload,
    stream_events,
    stream_response,
)
from .openai_rules import ApiError, Call, Catalog, ImageInput, Op, validate

__all__ = [
    "Dialect",
    "FilePart",
    "OpenAIFakeState",
    "RecordedRequest",
    "create_app",
    "images_endpoint",
    "shorten_data_urls",
]


@dataclass(frozen=True)
class FilePart:
    name: str
    filename: str | None
    content_type: str | None
    size: int


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None  # data: URLs inside are shortened to "data:...;base64,<N chars>"
    form: dict[str, list[str]] | None = None
    files: list[FilePart] = field(default_factory=list)


@dataclass
class OpenAIFakeState:
    api_keys: set[str] = field(default_factory=lambda: {"sk-test"})
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    requests: list[RecordedRequest] = field(default_factory=list)
    moderation_block_words: set[str] = field(default_factory=set)
    models: dict[str, Family] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    reject_response_format_for_gpt: bool = True
    partial_images_cap: int | None = None  # send fewer partials ("final may arrive early")
    stream_event_delay: float = 0.0
    stream_done_marker: bool = False
    stream_error_after: int | None = None  # events before an `event: error` ends the stream
    files: FileStore = field(default_factory=FileStore)


@dataclass(frozen=True)
class Dialect:
    """What differs between OpenAI and Azure around the shared images logic."""

    precheck: Callable[[Request], Response | None]
    model_for: Callable[[Request], str | None]
    render_error: Callable[[ApiError], Response]
    fault_body: ErrorBody
    decorate: Callable[[dict[str, Any]], None] | None = None


def shorten_data_urls(value: Any) -> Any:
    """A copy of a JSON value with long `data:` URLs cut to their header and length."""
    if isinstance(value, dict):
        return {k: shorten_data_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten_data_urls(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > 80:
        return f"{value.split(',', 1)[0]},<{len(value)} chars>"
    return value


def _inspect(name: str, data: bytes, source: str, part: UploadFile | None = None) -> ImageInput:
    fmt = mode = None
    width = height = None
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, mode, (width, height) = img.format, img.mode, img.size
    except Exception:  # not an image Pillow can read: the rules reject it
        pass
    return ImageInput(
        name, source, len(data), part.filename if part else None,
        part.content_type if part else None, width, height, fmt, mode,
    )  # fmt: skip


def _image_ref(name: str, ref: Any) -> ImageInput:
    if not isinstance(ref, dict) or len(ref) != 1 or not {"image_url", "file_id"} & ref.keys():
        msg = f"Invalid '{name}': expected an object with exactly one of 'image_url' or 'file_id'."
        raise ApiError(400, msg, param=name, code="invalid_value")
    if "file_id" in ref:
        return ImageInput(name, "file_id")
    url = ref["image_url"]
    if not isinstance(url, str) or len(url) > 20_971_520:
        raise ApiError(400, f"Invalid '{name}.image_url'.", param=name, code="invalid_value")
    if url.startswith(("http://", "https://")):
        return ImageInput(name, "url")
    header, _, payload = url.partition(",")
    if not (header.startswith("data:image/") and header.endswith(";base64")):
        msg = f"Invalid '{name}.image_url': expected an http(s) URL or a base64 data URL."
        raise ApiError(400, msg, param=name, code="invalid_value")
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        msg = f"Invalid base64 in '{name}'."
        raise ApiError(400, msg, param=name, code="invalid_value") from exc
    return _inspect(name, data, "data_url")


async def _parse(request: Request, op: Op, record: RecordedRequest) -> Call:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data") and op != "generate":
        try:
            form = await request.form(max_part_size=64 * 1024 * 1024)
        except HTTPException as exc:  # Starlette's answer to a malformed multipart body
            raise ApiError(400, f"Invalid multipart/form-data body: {exc.detail}") from exc
        call = Call(op, "multipart", {})
        record.form = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                record.files.append(FilePart(key, value.filename, value.content_type, len(data)))
                if key in ("image", "image[]"):
                    call.images.append(_inspect(key, data, "upload", value))
                elif key == "mask":
                    call.mask = _inspect(key, data, "upload", value)
                continue
            record.form.setdefault(key, []).append(value)
            if key in ("image", "image[]", "mask"):
                raise ApiError(400, f"'{key}' must be a file.", param=key, code="invalid_type")
            call.fields[key] = value
        return call
    if op == "variation":
        msg = "Invalid Content-Type header: expected multipart/form-data."
        raise ApiError(400, msg)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        msg = (
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)"
        )
        raise ApiError(400, msg)
    record.json = shorten_data_urls(body)
    call = Call(op, "json", body)
    if op == "edit":
        images = body.pop("images", None)
        if images is not None:
            if not isinstance(images, list) or not 1 <= len(images) <= 16:
                msg = "Invalid 'images': expected an array of 1 to 16 image references."
                raise ApiError(400, msg, param="images", code="invalid_value")
            call.images = [_image_ref(f"images[{i}]", ref) for i, ref in enumerate(images)]
        if body.get("mask") is not None:
            call.mask = _image_ref("mask", body.pop("mask"))
    return call


async def images_endpoint(
    request: Request, op: Op, state: OpenAIFakeState, dialect: Dialect
) -> Response:
    """Record -> fault switch -> precheck (auth...) -> validate -> answer (JSON or SSE)."""
    record = RecordedRequest(
        request.method, request.url.path, dict(request.query_params), dict(request.headers)
    )
    try:
        call: Call | ApiError = await _parse(request, op, record)
    except ApiError as err:
        call = err
    state.requests.append(record)
    fault = state.faults.take()
    if (early := await fault_response(fault, state.faults, dialect.fault_body)) is not None:
        return early
    if (rejected := dialect.precheck(request)) is not None:
        return rejected
    try:
        if isinstance(call, ApiError):
            raise call
        catalog = Catalog(state.models, state.reject_response_format_for_gpt)
        job = validate(call, catalog, dialect.model_for(request))
        if (blocked := moderation_error(job, state.moderation_block_words)) is not None:
            raise blocked
    except ApiError as err:
        return dialect.render_error(err)
    finals = await run_in_threadpool(render_images, job, job.n)
    if job.stream:
        cap = state.partial_images_cap
        count = job.partial_images if cap is None else min(cap, job.partial_images)
        partials = await run_in_threadpool(render_images, job, count, True)
        events = stream_events(
            job, finals, partials, state.stream_error_after, state.stream_done_marker
        )
        if fault == "slow_drip":
            return drip(Response(b"".join(events), media_type="text/event-stream"), state.faults)
        return stream_response(events, state.stream_event_delay)
    payload = response_payload(job, finals, str(request.base_url), state.files)
    if dialect.decorate is not None:
        dialect.decorate(payload)
    response = json_response(payload)
    return drip(response, state.faults) if fault == "slow_drip" else response


def _openai_precheck(state: OpenAIFakeState) -> Callable[[Request], Response | None]:
    def precheck(request: Request) -> Response | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            msg = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return json_response(ApiError(401, msg).body(), 401)
        key = auth[7:].strip()
        if state.api_keys and key not in state.api_keys:
            msg = f"Incorrect API key provided: {key[:3]}***{key[-4:]}."
            return json_response(ApiError(401, msg, code="invalid_api_key").body(), 401)
        return None

    return precheck


def create_app(state: OpenAIFakeState) -> Starlette:
    dialect = Dialect(
        precheck=_openai_precheck(state),
        model_for=lambda request: None,
        render_error=lambda err: json_response(err.body(), err.status),
        fault_body=openai_fault_body,
    )

    def endpoint(op: Op) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await images_endpoint(request, op, state, dialect)

        return handle

    async def invalid_url(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        msg = f"Invalid URL ({request.method} {request.url.path})"
        return json_response(ApiError(status, msg).body(), status)

    routes = [
        Route("/v1/images/generations", endpoint("generate"), methods=["POST"]),
        Route("/v1/images/edits", endpoint("edit"), methods=["POST"]),
        Route("/v1/images/variations", endpoint("variation"), methods=["POST"]),
        file_route(lambda: state.files),
    ]
    return Starlette(routes=routes, exception_handlers={404: invalid_url, 405: invalid_url})
