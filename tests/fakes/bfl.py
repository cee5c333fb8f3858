"""Fake of Black Forest Labs' FLUX API (protocol doc §3) for loopback tests.

Endpoints: ``POST /v1/<model>`` (every model in `MODELS`: flux-pro-1.1, -ultra, flux-dev,
flux-pro, flux-kontext-pro/-max, flux-pro-1.0-fill/-expand, flux-2-*), ``GET
/v1/get_result?id=`` (both `x-key` auth) and ``GET /results/<id>/sample.<ext>?se=&sig=`` — the
signed `result.sample` link (no x-key, 403 once `sample_ttl_seconds` have passed).

Example::

    POST /v1/flux-pro-1.1  x-key: bfl-test-key
    {"prompt": "a red fox", "width": 512, "height": 256, "output_format": "png"}
    -> 200 {"id": "6f0c…", "polling_url": "http://127.0.0.1:PORT/v1/get_result?id=6f0c…",
            "cost": 4.0, "input_mp": 0.0, "output_mp": 0.13}
    GET /v1/get_result?id=6f0c…  ->  {"id": "6f0c…", "status": "Pending", "result": null,
            "progress": 0.333, "details": null, "preview": null}   (`steps_until_ready` polls)
    GET /v1/get_result?id=6f0c…  ->  {"id": "6f0c…", "status": "Ready", "result": {"sample":
            "http://127.0.0.1:PORT/results/6f0c…/sample.png?se=…&sig=…", "prompt": "a red fox",
            "seed": 42}, "progress": null, "details": null, "preview": null}

Rules: FastAPI/pydantic-v2 422 ``{"detail": [{type, loc, msg, input, ctx?}]}`` for bad JSON,
wrong types, missing `prompt` (kontext, FLUX.2), ranges, multiples of 32 (FLUX.1) / 16
(FLUX.2), enums, aspect ratios outside 21:9..9:21, undecodable base64 images, FLUX.2 > 4 MP;
402 when `credits` run short; 429 at `max_active_tasks` Pending tasks per key (kontext-max 6).

UNCONFIRMED choices:
  * missing x-key -> 403 {"detail": "Not authenticated"}; wrong key -> 403 {"detail": "Not
    authenticated - Invalid Authentication"} (the latter seen in a user's GitHub issue).
  * 402 body {"detail": "Insufficient credits"}; 429 body from BFL's skill doc
    {"error": "rate_limit_exceeded", "message", "retry_after"} plus a `Retry-After` header.
  * unknown id, or another key's id -> HTTP `not_found_status` (404) + status "Task not found".
  * `progress` is a 0..1 fraction while Pending, null after; Error -> details {"error": msg};
    moderation -> details {"Moderation Reasons": [...]}; `result` holds sample, prompt, seed.
  * ranges not in the doc: dev/pro guidance 1.5-5, interval 1-4; fill/expand steps 15-50,
    guidance 1.5-100, padding 0-2048; FLUX.2 safety_tolerance 0-5; 4 MP = 4 * 1024².
  * sizes: ultra ~4 MP and kontext ~1 MP from the ratio (multiples of 32); kontext without a
    ratio follows a base64 input image (URL: 1:1); FLUX.2 default 1024x1024; fill = input,
    expand = input + padding.
  * output_format: kontext (default png), fill, expand and FLUX.2 take jpeg|png; the others
    also webp. Unknown body fields are ignored; base64 may carry a data: URL prefix.
  * tasks advance only when polled (one step per poll), so they count as active until then;
    webhook_url set -> {id, status: "Pending", webhook_url, cost, ...}, no callback is made.
  * expired/tampered sample links -> 403 Azure-blob XML `AuthenticationFailed`; `COSTS` are
    illustrative credit prices.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import math
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import FaultSwitch, drip, fault_response
from .images import image_bytes

__all__ = ["COSTS", "MODELS", "OUTCOMES", "BFLFakeState", "RecordedRequest", "create_app"]

OUTCOMES = ("Ready", "Error", "Content Moderated", "Request Moderated")
_B64 = re.compile(r"[A-Za-z0-9+/=_\-\s]+")
Problem = tuple[str, dict[str, Any]]  # pydantic error type and its ctx
MESSAGES = {
    "missing": "Field required",
    "int_type": "Input should be a valid integer",
    "int_parsing": "Input should be a valid integer, unable to parse string as an integer",
    "int_from_float": "Input should be a valid integer, got a number with a fractional part",
    "float_type": "Input should be a valid number",
    "float_parsing": "Input should be a valid number, unable to parse string as a number",
    "bool_type": "Input should be a valid boolean",
    "bool_parsing": "Input should be a valid boolean, unable to interpret input",
    "string_type": "Input should be a valid string",
    "enum": "Input should be {expected}",
    "url_parsing": "Input should be a valid URL, relative URL without a base",
    "multiple_of": "Input should be a multiple of {multiple_of}",
    "greater_than_equal": "Input should be greater than or equal to {ge}",
    "less_than_equal": "Input should be less than or equal to {le}",
    "value_error": "Value error, {error}",
}


@dataclass(frozen=True)
class Spec:
    kind: str  # str | int | num | bool | enum | ratio | url | image
    default: Any = None
    ge: float | None = None
    le: float | None = None
    multiple_of: int | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    nullable: bool = True


def _int(default: int | None, ge: int, le: int | None = None, mult: int | None = None) -> Spec:
    return Spec("int", default, ge, le, mult, nullable=default is None)


def _num(default: float, ge: float, le: float) -> Spec:
    return Spec("num", default, ge, le)


def _fmt(*choices: str, default: str = "jpeg") -> Spec:
    return Spec("enum", default, choices=choices)


# fmt: off
_COMMON = {"seed": Spec("int"), "safety_tolerance": _int(2, 0, 6), "webhook_url": Spec("url"),
           "prompt_upsampling": Spec("bool", False, nullable=False), "webhook_secret": Spec("str")}
_PRO11 = {"prompt": Spec("str", ""), "image_prompt": Spec("image"),
          "width": _int(1024, 256, 1440, 32), "height": _int(768, 256, 1440, 32), **_COMMON,
          "output_format": _fmt("jpeg", "png", "webp"), "user": Spec("str")}
_KONTEXT = {"prompt": Spec("str", required=True),
            **{f"input_image{s}": Spec("image") for s in ("", "_2", "_3", "_4")},
            "aspect_ratio": Spec("ratio"), **_COMMON,
            "output_format": _fmt("jpeg", "png", default="png")}
_EDIT = {"image": Spec("image", required=True), "prompt": Spec("str", ""), **_COMMON,
         "steps": _int(50, 15, 50), "guidance": _num(60.0, 1.5, 100),
         "output_format": _fmt("jpeg", "png")}
_PAD = {side: _int(0, 0, 2048) for side in ("top", "bottom", "left", "right")}


def _flux2(n_images: int, flex: bool = False) -> dict[str, Spec]:
    specs = {"prompt": Spec("str", required=True), **_COMMON, "safety_tolerance": _int(2, 0, 5),
             "width": _int(None, 64, None, 16), "height": _int(None, 64, None, 16),
             "output_format": _fmt("jpeg", "png"), "disable_pup": Spec("bool")}
    specs |= {f"input_image{f'_{i}' * (i > 1)}": Spec("image") for i in range(1, n_images + 1)}
    return specs | ({"steps": _int(50, 1, 50), "guidance": _num(4.5, 1.5, 10)} if flex else {})


MODELS: dict[str, dict[str, Spec]] = {
    "flux-pro-1.1": _PRO11,
    "flux-dev": {**_PRO11, "steps": _int(28, 1, 50), "guidance": _num(3.0, 1.5, 5)},
    "flux-pro": {**_PRO11, "steps": _int(40, 1, 50), "guidance": _num(2.5, 1.5, 5),
                 "interval": _num(2.0, 1, 4)},
    "flux-pro-1.1-ultra": {"prompt": Spec("str", ""), "image_prompt": Spec("image"), **_COMMON,
                           "aspect_ratio": Spec("ratio", "16:9", nullable=False),
                           "raw": Spec("bool", False, nullable=False),
                           "image_prompt_strength": _num(0.1, 0, 1),
                           "output_format": _fmt("jpeg", "png", "webp")},
    "flux-kontext-pro": _KONTEXT, "flux-kontext-max": _KONTEXT,
    "flux-pro-1.0-fill": {**_EDIT, "mask": Spec("image")},
    "flux-pro-1.0-expand": {**_EDIT, **_PAD},
    "flux-2-pro": _flux2(8), "flux-2-max": _flux2(8), "flux-2-flex": _flux2(8, flex=True),
    "flux-2-klein-4b": _flux2(4), "flux-2-klein-9b": _flux2(4),
}
COSTS: dict[str, float] = {
    "flux-pro-1.1": 4.0, "flux-pro-1.1-ultra": 6.0, "flux-dev": 2.5, "flux-pro": 5.0,
    "flux-kontext-pro": 4.0, "flux-kontext-max": 8.0, "flux-pro-1.0-fill": 5.0,
    "flux-pro-1.0-expand": 5.0, "flux-2-pro": 3.0, "flux-2-max": 7.0, "flux-2-flex": 6.0,
    "flux-2-klein-4b": 1.4, "flux-2-klein-9b": 1.5,
}
# fmt: on


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON with base64 strings replaced by "<base64 len=N>"


@dataclass
class BFLTask:
    id: str
    model: str
    api_key: str
    params: dict[str, Any]
    size: tuple[int, int]
    outcome: str
    seed: int
    polls: int = 0
    status: str = "Pending"
    ready_at: float | None = None
    image: bytes | None = None


@dataclass
class BFLFakeState:
    api_keys: set[str] = field(default_factory=lambda: {"bfl-test-key"})
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    requests: list[RecordedRequest] = field(default_factory=list)
    steps_until_ready: int = 2  # polls answered "Pending" before the outcome shows
    outcome: str = "Ready"  # for tasks submitted from now on; one of OUTCOMES
    sample_ttl_seconds: float = 600.0  # 0 -> every sample link is born expired
    submissions: Counter[str] = field(default_factory=Counter)  # accepted submits per model
    credits: float | None = None  # None: unlimited; else spent per COSTS, 402 when short
    max_active_tasks: int = 24  # unfinished (Pending) tasks per key before 429
    model_active_limits: dict[str, int] = field(default_factory=lambda: {"flux-kontext-max": 6})
    rate_limit_retry_after: int = 5
    not_found_status: int = 404
    error_message: str = "Internal generation error"
    moderation_reasons: list[str] = field(default_factory=lambda: ["Derivative Works Filter"])
    tasks: dict[str, BFLTask] = field(default_factory=dict)
    signing_key: bytes = field(default_factory=lambda: uuid.uuid4().bytes)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error_body(status: int, message: str) -> dict[str, Any]:
    if status == 429:
        return {"error": "rate_limit_exceeded", "message": message, "retry_after": 5}
    return {"detail": message}


def summarise(value: Any) -> Any:
    """Replace base64 payloads (raw or data: URLs) by their length, recursively."""
    if isinstance(value, dict):
        return {k: summarise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarise(v) for v in value]
    if isinstance(value, str) and (
        value.startswith("data:") or (len(value) >= 64 and _B64.fullmatch(value))
    ):
        return f"<base64 len={len(value)}>"
    return value


def _image_size(text: str) -> tuple[int, int] | None:
    """Size of a base64 (or data: URL) image; None when it does not decode."""
    try:
        with Image.open(io.BytesIO(base64.b64decode(text.split(",", 1)[-1]))) as img:
            return img.size
    except (binascii.Error, ValueError, OSError):
        return None


def _ratio(text: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    return (int(match[1]), int(match[2])) if match and int(match[1]) and int(match[2]) else None


def _coerce(spec: Spec, value: Any) -> tuple[Any, Problem | None]:
    """pydantic-v2 lax coercion and checks of one non-null value."""
    kind = spec.kind
    if kind in ("int", "num"):
        prefix = "int" if kind == "int" else "float"
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return value, (f"{prefix}_type", {})
        if kind == "int" and isinstance(value, float) and not value.is_integer():
            return value, ("int_from_float", {})
        try:
            value = int(value) if kind == "int" else float(value)
        except ValueError:
            return value, (f"{prefix}_parsing", {})
        if spec.multiple_of and value % spec.multiple_of:
            return value, ("multiple_of", {"multiple_of": spec.multiple_of})
        if spec.ge is not None and value < spec.ge:
            return value, ("greater_than_equal", {"ge": spec.ge})
        if spec.le is not None and value > spec.le:
            return value, ("less_than_equal", {"le": spec.le})
        return value, None
    if kind == "bool":
        words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        if isinstance(value, bool) or str(value).lower() not in words:
            return value, None if isinstance(value, bool) else ("bool_parsing", {})
        return words[str(value).lower()], None
    if not isinstance(value, str):
        return value, ("string_type", {})
    if kind == "enum" and value not in spec.choices:
        quoted = [f"'{c}'" for c in spec.choices]
        return value, ("enum", {"expected": ", ".join(quoted[:-1]) + f" or {quoted[-1]}"})
    if kind == "url" and not re.match(r"https?://[^/\s]+", value):
        return value, ("url_parsing", {})
    if kind == "ratio" and not ((r := _ratio(value)) and 9 / 21 <= r[0] / r[1] <= 21 / 9):
        return value, ("value_error", {"error": "Aspect ratio must be between 21:9 and 9:21"})
    if kind == "image" and not value.startswith(("http://", "https://")) and not _image_size(value):
        return value, ("value_error", {"error": "Invalid image: expected a URL or base64 image"})
    return value, None


_TYPE_NAMES = {"int": "int", "num": "float", "bool": "bool"}


def _error(kind: str, loc: list[Any], value: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    shown = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in ctx.items()}
    error = {"type": kind, "loc": loc, "msg": MESSAGES[kind].format(**shown), "input": value}
    return error | ({"ctx": {"error": {}} if kind == "value_error" else ctx} if ctx else {})


def validate(model: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Defaults-filled parameters and the pydantic-style 422 errors of one submit body."""
    params: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, spec in MODELS[model].items():
        value = body.get(name, spec.default)
        problem: Problem | None = None
        if name not in body and spec.required:
            problem = ("missing", {})
        elif value is None and (spec.required or not spec.nullable):
            problem = (_TYPE_NAMES.get(spec.kind, "string") + "_type", {})
        elif value is not None:
            value, problem = _coerce(spec, value)
        if problem:
            shown = summarise(body) if problem[0] == "missing" else summarise(body.get(name))
            errors.append(_error(problem[0], ["body", name], shown, problem[1]))
        params[name] = value
    return params, errors


def _mp_size(ratio: tuple[int, int], pixels: int) -> tuple[int, int]:
    width = math.sqrt(pixels * ratio[0] / ratio[1])
    return max(32, round(width / 32) * 32), max(32, round(width * ratio[1] / ratio[0] / 32) * 32)


def output_size(model: str, p: dict[str, Any]) -> tuple[int, int] | str:
    """Width and height the task will produce, or a model-level validation error."""
    if model.startswith("flux-2-"):
        width, height = p["width"] or 1024, p["height"] or 1024
        return (width, height) if width * height <= 4 * 1024 * 1024 else "exceeds 4 megapixels"
    if "width" in p:
        return p["width"], p["height"]
    if model == "flux-pro-1.1-ultra":
        return _mp_size(_ratio(p["aspect_ratio"]) or (16, 9), 4 * 1024 * 1024)
    if model.startswith("flux-kontext"):
        src = _image_size(p["input_image"] or "") if not p["aspect_ratio"] else None
        return _mp_size(_ratio(p["aspect_ratio"] or "") or src or (1, 1), 1024 * 1024)
    width, height = _image_size(p["image"]) or (1024, 1024)  # fill / expand (URL: 1024²)
    if model.endswith("expand"):
        return width + p["left"] + p["right"], height + p["top"] + p["bottom"]
    return width, height


def _sign(state: BFLFakeState, task_id: str, expires: str) -> str:
    return hmac.new(state.signing_key, f"{task_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def _view(state: BFLFakeState, task: BFLTask, base: str) -> dict[str, Any]:
    result: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    if task.status == "Ready" and task.ready_at is not None:
        expires = f"{task.ready_at + state.sample_ttl_seconds:.3f}"
        sample = f"{base}/results/{task.id}/sample.{task.params['output_format']}"
        sample += f"?se={expires}&sig={_sign(state, task.id, expires)}"
        result = {"sample": sample, "prompt": task.params.get("prompt"), "seed": task.seed}
    elif task.status == "Error":
        details = {"error": state.error_message}
    elif task.status.endswith("Moderated"):
        details = {"Moderation Reasons": list(state.moderation_reasons)}
    progress = round(task.polls / (state.steps_until_ready + 1), 3)
    progress_or_none = progress if task.status == "Pending" else None
    return {"id": task.id, "status": task.status, "result": result,
            "progress": progress_or_none, "details": details, "preview": None}  # fmt: skip


class Reject(Exception):
    """Raised by a handler to answer with `response` instead."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _blob_error(status: int, code: str, message: str) -> Reject:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
    return Reject(
        Response(
            f"{body}<Message>{message}</Message></Error>", status, media_type="application/xml"
        )
    )


def _authorise(state: BFLFakeState, request: Request) -> str:
    key = request.headers.get("x-key")
    if not key:
        raise Reject(_json({"detail": "Not authenticated"}, 403))
    if key not in state.api_keys:
        raise Reject(_json({"detail": "Not authenticated - Invalid Authentication"}, 403))
    return key


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ["body", exc.pos], "msg": "JSON decode error"}
        raise Reject(
            _json({"detail": [error | {"input": {}, "ctx": {"error": exc.msg}}]}, 422)
        ) from None
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        error = {"type": "model_attributes_type", "loc": ["body"], "msg": msg, "input": body}
        raise Reject(_json({"detail": [error]}, 422))
    return body


def _admit(state: BFLFakeState, key: str, model: str) -> None:
    """Credits (402) and concurrency (429) checks; spends the credits when admitted."""
    cost = COSTS[model]
    if state.credits is not None and state.credits < cost:
        raise Reject(_json({"detail": "Insufficient credits"}, 402))
    active = [t for t in state.tasks.values() if t.api_key == key and t.status == "Pending"]
    limit = state.model_active_limits.get(model, state.max_active_tasks)
    if len(active) >= state.max_active_tasks or sum(t.model == model for t in active) >= limit:
        retry = state.rate_limit_retry_after
        body = error_body(429, f"Too many active tasks (limit {limit})") | {"retry_after": retry}
        raise Reject(_json(body, 429, {"Retry-After": str(retry)}))
    if state.credits is not None:
        state.credits -= cost
    state.submissions[model] += 1


def create_app(state: BFLFakeState) -> Starlette:
    def endpoint(
        handler: Callable[[Request, bytes], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        """Record the request, apply a drawn fault, run `handler`, turn Reject into its answer."""

        async def run(request: Request) -> Response:
            raw = await request.body()
            try:
                body: Any = summarise(orjson.loads(raw)) if raw else None
            except orjson.JSONDecodeError:
                body = f"<unparsable body len={len(raw)}>"
            query, headers = dict(request.query_params), dict(request.headers)
            state.requests.append(
                RecordedRequest(request.method, request.url.path, query, headers, body)
            )
            fault = state.faults.take()
            if (early := await fault_response(fault, state.faults, error_body)) is not None:
                return early
            try:
                response = handler(request, raw)
            except Reject as rejected:
                response = rejected.response
            return drip(response, state.faults) if fault == "slow_drip" else response

        return run

    def submit(request: Request, raw: bytes) -> Response:
        model = request.path_params["model"]
        if model not in MODELS:
            raise Reject(_json({"detail": "Not Found"}, 404))
        key = _authorise(state, request)
        body = _parse(raw)
        params, errors = validate(model, body)
        size = output_size(model, params) if not errors else (0, 0)
        if isinstance(size, str):
            errors = [
                _error(
                    "value_error", ["body"], summarise(body), {"error": f"width * height {size}"}
                )
            ]
        if errors or isinstance(size, str):
            raise Reject(_json({"detail": errors}, 422))
        _admit(state, key, model)
        seed = params["seed"] if params.get("seed") is not None else random.randint(1, 2**31)
        task = BFLTask(uuid.uuid4().hex, model, key, params, size, state.outcome, seed)
        state.tasks[task.id] = task
        output_mp = round(size[0] * size[1] / 1e6, 2)
        answer = {"id": task.id, "cost": COSTS[model], "input_mp": 0.0, "output_mp": output_mp}
        if params.get("webhook_url"):
            return _json(answer | {"status": "Pending", "webhook_url": params["webhook_url"]})
        base = str(request.base_url).rstrip("/")
        return _json(answer | {"polling_url": f"{base}/v1/get_result?id={task.id}"})

    def get_result(request: Request, raw: bytes) -> Response:
        key = _authorise(state, request)
        task_id = request.query_params.get("id")
        if task_id is None:
            error = {"type": "missing", "loc": ["query", "id"], "msg": "Field required"}
            raise Reject(_json({"detail": [error | {"input": None}]}, 422))
        task = state.tasks.get(task_id)
        if task is None or task.api_key != key:
            missing = {"id": task_id, "status": "Task not found", "result": None, "progress": None}
            raise Reject(
                _json(missing | {"details": None, "preview": None}, state.not_found_status)
            )
        if task.status == "Pending":
            task.polls += 1
            if task.polls > state.steps_until_ready:
                task.status = task.outcome
                task.ready_at = time.time() if task.outcome == "Ready" else None
        return _json(_view(state, task, str(request.base_url).rstrip("/")))

    def sample(request: Request, raw: bytes) -> Response:
        task = state.tasks.get(request.path_params["task_id"])
        fmt = task.params["output_format"] if task else ""
        if task is None or task.ready_at is None or request.path_params["name"] != f"sample.{fmt}":
            raise _blob_error(404, "BlobNotFound", "The specified blob does not exist.")
        expires = request.query_params.get("se", "0")
        if not hmac.compare_digest(
            request.query_params.get("sig", ""), _sign(state, task.id, expires)
        ):
            raise _blob_error(403, "AuthenticationFailed", "Signature did not match.")
        if time.time() >= float(expires):
            raise _blob_error(
                403, "AuthenticationFailed", f"Signed expiry time [{expires}] has passed."
            )
        if task.image is None:
            color = (task.seed * 37 % 256, task.seed * 91 % 256, task.seed * 53 % 256, 255)
            task.image = image_bytes(*task.size, fmt.upper(), color)
        return Response(task.image, media_type=f"image/{fmt}")

    routes = [
        Route("/v1/get_result", endpoint(get_result), methods=["GET"]),
        Route("/v1/{model}", endpoint(submit), methods=["POST"]),
        Route("/results/{task_id}/{name}", endpoint(sample), methods=["GET"]),
    ]
    return Starlette(routes=routes)
