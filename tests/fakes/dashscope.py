"""Fake Alibaba DashScope image upstream (Wan / Qwen-Image), speaking the real wire protocol.

Endpoints (base `{fake}/api/v1`, same as `dashscope.base_http_api_url`):
  POST /services/aigc/multimodal-generation/generation  sync: wan2.6-t2i, wan2.6-image,
       wan2.7-image(-pro), qwen-image(-plus/-max/-2.0/-2.0-pro), qwen-image-edit(-plus/-max)
  POST /services/aigc/image-generation/generation       async (wan2.6 / wan2.7, same body)
  POST /services/aigc/text2image/image-synthesis         async: wanx-v1 ... wan2.5-t2i-preview
  POST /services/aigc/image2image/image-synthesis        async: wanx2.1-imageedit, wan2.5-i2i
  GET  /tasks/{task_id}                                  PENDING -> RUNNING -> SUCCEEDED/FAILED
Plus, outside the protocol: GET /oss/{key}.png serves result images (403 like an expired OSS
link when `expire_urls`), GET /_fake/img/{W}x{H}.{png|jpg|webp|bmp} serves input images.

Example (sync, seed 000 scenario 4.1):
  POST /api/v1/services/aigc/multimodal-generation/generation
  Authorization: Bearer sk-fake-dashscope
  {"model": "wan2.7-image-pro", "input": {"messages": [{"role": "user", "content":
   [{"text": "A flower shop"}]}]}, "parameters": {"size": "2K", "n": 1, "thinking_mode": true}}
  -> 200 {"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant",
     "content": [{"image": "http://127.0.0.1:PORT/oss/KEY.png?Expires=...", "type": "image"}]}}],
     "finished": true}, "usage": {"image_count": 1, "input_tokens": 3, "output_tokens": 2,
     "size": "2048*2048", "total_tokens": 5}, "request_id": "..."}
Errors: HTTP 4xx/5xx `{"request_id", "code", "message"}`; 401 InvalidApiKey, 400
InvalidParameter / DataInspectionFailed / BadRequest.Empty*, 403 AccessDenied, 429
Throttling.RateQuota, 500 InternalError.

UNCONFIRMED choices (doc §7 or not documented at all):
  * Missing async header on text2image/image2image/image-generation -> 403 AccessDenied
    "current user api does not support synchronous calls"; async header on the sync endpoint ->
    403 "... asynchronous calls" (message seen in client issue trackers; code assumed).
    wan2.2-t2i-flash/-plus without the header answer synchronously with the finished task body.
  * Unknown model, or a model on the wrong endpoint -> 400 InvalidParameter "Model not exist.".
  * Missing `parameters` -> 400 BadRequest.EmptyParameters (the SDK always sends it).
  * An input image that cannot be fetched/decoded -> 400 InvalidParameter "url error, please
    check url! ..." at submission, also for async endpoints (never a FAILED task).
  * Size rules: wan2.6-image W*H 768*768..2048*2048 (1:4..4:1), default 1K; tiers 1K/2K/4K are
    square for text-to-image and follow image 1's aspect (multiple of 16) when images are given;
    qwen-image(-plus/-max) accept only the 1472*1104 variant of the 5 fixed sizes;
    qwen-image-2.0 default 2048*2048; qwen edit output follows the last image at ~1024*1024;
    wanx2.1-imageedit output = base image size (x upscale_factor for super_resolution).
  * Defaults/ranges from 3P mirrors: n wan2.6-t2i 1..4 (default 4), wan2.6-image 1..4 (4),
    wan2.7 1..4 (1) or 1..12 (12) with enable_sequential, qwen-image(-plus/-max) and
    qwen-image-edit 1, qwen-image-2.0 / edit-plus / edit-max 1..6 (1), legacy 1..4 (4; 1 for
    wanx2.1-imageedit); wan2.5 T2I/I2I W*H 1280*1280..1440*1440 (not 768*768), 1:4..4:1; older
    legacy models each side 512..1440; qwen-image-2.0 takes 0..3 images; the mask is required
    only for description_edit_with_mask.
  * Input image limits enforced: wan2.6-image 240..8000 px, 10 MB, no alpha PNG; wan2.7 240..8000,
    1:8..8:1, 20 MB; wan2.5-i2i 384..5000, 1..3 images; qwen edit 1..3 images, formats only.
  * thinking_mode must be a boolean; bbox_list (wan2.7 only) needs one list per input image, each
    box [x1, y1, x2, y2] integer pixels inside that image.
  * enable_interleave=true (wan2.6-image) is rejected: the fake does not implement SSE output.
  * Qwen answers n images as one choice with n content items; wan as n choices.
  * usage tokens: 0 for wan2.6, len(prompt)//4 + 1024 per input image / 2 per output for wan2.7.
  * FAILED task body: output.code / output.message (from `fail_code` / `fail_message`).
  * Partial failure (`failed_results`): last entries of results[] carry code/message.
  * `error_in_200` answers POSTs with 200 {"request_id", "code": "InternalError.Algo",
    "message"}; task polls are never affected.
  * Expired link: 403 application/xml OSS body with Code AccessDenied "Request has expired.".
  * Blocked words (`blocked_words`, prompt or negative_prompt) -> 400 DataInspectionFailed.
  * Fault bodies: 500/502 InternalError, 503 ServiceUnavailable, 429 Throttling.RateQuota.
  * Unknown parameters are ignored (the SDK's ImageGeneration even sends `is_async: true`);
    prompt length limits are not enforced (docs say excess text is truncated).
  * Tasks are not bound to the key that created them; an unknown task id polls as UNKNOWN.
  * Not implemented: POST /tasks/{id}/cancel, GET /tasks (list), SSE output, workspaces.
Faults (`state.faults`) apply to every API call (not to /oss downloads, which use
`state.download_faults`, nor to /_fake assets).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
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
from tests.fakes.dashscope_models import (
    LEGACY_I2I,
    LEGACY_T2I,
    MULTIMODAL,
    SYNC_T2I,
    DashScopeError,
    Prompt,
    check_legacy,
    check_multimodal,
    family_of,
    parse_messages,
    plan_legacy,
    plan_multimodal,
)
from tests.fakes.dashscope_tasks import (
    FakeTask,
    choice_items,
    multimodal_usage,
    result_url,
    task_output,
)
from tests.fakes.faults import FaultSwitch, drip, fault_response

__all__ = ["DashScopeFakeState", "RecordedRequest", "create_app"]

Size = tuple[int, int]
Handler = Callable[[Request, Any, str], Awaitable[Response]]
_FAULT_CODES = {401: "InvalidApiKey", 403: "AccessDenied", 429: "Throttling.RateQuota"}


@dataclass(frozen=True)
class _Generation:
    model: str
    family: str
    params: dict[str, Any]
    prompt: Prompt
    images: list[InputImage]
    sizes: list[Size]


@dataclass
class DashScopeFakeState:
    api_keys: set[str] = field(default_factory=lambda: {"sk-fake-dashscope"})
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    download_faults: FaultSwitch = field(default_factory=FaultSwitch)
    requests: list[RecordedRequest] = field(default_factory=list)
    error_in_200: bool = False
    task_steps: int = 2  # polls answered PENDING (first) / RUNNING before the terminal state
    fail_tasks: bool = False
    fail_code: str = "DataInspectionFailed"
    fail_message: str = "Output data may contain inappropriate content."
    failed_results: int = 0  # results[] entries failing inside a SUCCEEDED legacy task
    expire_urls: bool = False
    blocked_words: list[str] = field(default_factory=lambda: ["[blocked]"])
    fetch_timeout: float = 5.0
    task_submissions: int = 0
    downloads: int = 0
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    images: dict[str, Size] = field(default_factory=dict)  # served result key -> size


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error_body(status: int, message: str) -> dict[str, Any]:
    code = _FAULT_CODES.get(status, "ServiceUnavailable" if status == 503 else "InternalError")
    return {"request_id": str(uuid.uuid4()), "code": code, "message": message}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _is_async(request: Request) -> bool:
    return request.headers.get("x-dashscope-async", "").lower() == "enable"


def _envelope(body: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if not isinstance(body, dict):
        raise DashScopeError(400, "InvalidParameter", "Request body is not a valid JSON object")
    model, inp, params = body.get("model"), body.get("input"), body.get("parameters")
    if not isinstance(model, str) or not model:
        raise DashScopeError(400, "BadRequest.EmptyModel", 'Required parameter "model" missing')
    if inp is None:
        raise DashScopeError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing')
    if params is None:
        raise DashScopeError(
            400, "BadRequest.EmptyParameters", 'Required parameter "parameters" missing'
        )
    if not isinstance(inp, dict) or not isinstance(params, dict):
        raise DashScopeError(400, "InvalidParameter", "input and parameters must be objects")
    return model, inp, params


def create_app(state: DashScopeFakeState) -> Starlette:
    def store(size: Size) -> str:
        key = uuid.uuid4().hex
        state.images[key] = size
        return key

    def inspect(*texts: Any) -> None:
        for text in texts:
            if isinstance(text, str) and any(word in text for word in state.blocked_words):
                raise DashScopeError(
                    400, "DataInspectionFailed", "Input data may contain inappropriate content."
                )

    async def load_all(refs: list[str]) -> list[InputImage]:
        try:
            return list(await asyncio.gather(*(load_image(r, state.fetch_timeout) for r in refs)))
        except MediaError as exc:
            raise DashScopeError(
                400, "InvalidParameter", f"url error, please check url! ({exc})"
            ) from exc

    def error_200(request_id: str) -> Response:
        message = "An internal error has occured during algorithm execution."
        return _json({"request_id": request_id, "code": "InternalError.Algo", "message": message})

    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                body: Any = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = ValueError("not JSON")
            state.requests.append(
                RecordedRequest(
                    request.method,
                    request.url.path,
                    dict(request.headers),
                    None if isinstance(body, ValueError) else redact(body),
                )
            )
            request_id = str(uuid.uuid4())
            fault = state.faults.take()
            if (early := await fault_response(fault, state.faults, _error_body)) is not None:
                return early
            try:
                auth = request.headers.get("authorization", "")
                if not auth:
                    raise DashScopeError(401, "InvalidApiKey", "No API-key provided.")
                if not auth.startswith("Bearer ") or auth[7:].strip() not in state.api_keys:
                    raise DashScopeError(401, "InvalidApiKey", "Invalid API-key provided.")
                response = await handler(request, body, request_id)
            except DashScopeError as err:
                response = _json(
                    {"request_id": request_id, "code": err.code, "message": err.message},
                    err.status,
                )
            return drip(response, state.faults) if fault == "slow_drip" else response

        return endpoint

    async def multimodal(body: Any, asynchronous: bool) -> _Generation:
        model, inp, params = _envelope(body)
        family = family_of(model, MULTIMODAL)
        if family is None or (asynchronous and not family.startswith("wan")):
            raise DashScopeError(400, "InvalidParameter", "Model not exist.")
        prompt = parse_messages(inp)
        check_multimodal(family, params, prompt)
        inspect(prompt.text, params.get("negative_prompt"))
        images = await load_all(prompt.images)
        sizes = plan_multimodal(family, params, images)
        return _Generation(model, family, params, prompt, images, sizes)

    async def sync_generation(request: Request, body: Any, request_id: str) -> Response:
        if _is_async(request):
            raise DashScopeError(
                403, "AccessDenied", "current user api does not support asynchronous calls"
            )
        gen = await multimodal(body, asynchronous=False)
        if state.error_in_200:
            return error_200(request_id)
        urls = [result_url(_base(request), store(size)) for size in gen.sizes]
        output: dict[str, Any] = {"choices": choice_items(gen.family, urls)}
        if not gen.family.startswith("qwen"):
            output["finished"] = True
        usage = multimodal_usage(gen.family, gen.sizes, gen.prompt.text, len(gen.images))
        return _json({"output": output, "usage": usage, "request_id": request_id})

    def submit(task: FakeTask, request_id: str) -> Response:
        state.task_submissions += 1
        state.tasks[task.task_id] = task
        output = {"task_id": task.task_id, "task_status": "PENDING"}
        return _json({"request_id": request_id, "output": output})

    def require_async(request: Request) -> None:
        if not _is_async(request):
            raise DashScopeError(
                403, "AccessDenied", "current user api does not support synchronous calls"
            )

    async def async_generation(request: Request, body: Any, request_id: str) -> Response:
        require_async(request)
        gen = await multimodal(body, asynchronous=True)
        if state.error_in_200:
            return error_200(request_id)
        task = FakeTask(
            str(uuid.uuid4()),
            gen.model,
            "choices",
            gen.family,
            gen.prompt.text,
            gen.params.get("prompt_extend", True) is True,
            gen.sizes,
            len(gen.images),
        )
        return submit(task, request_id)

    def legacy(table: dict[str, str]) -> Handler:
        async def handler(request: Request, body: Any, request_id: str) -> Response:
            model, inp, params = _envelope(body)
            family = family_of(model, table)
            sync = not _is_async(request) and model in SYNC_T2I and table is LEGACY_T2I
            if not sync:
                require_async(request)
            if family is None:
                raise DashScopeError(400, "InvalidParameter", "Model not exist.")
            refs = check_legacy(family, inp, params)
            inspect(inp.get("prompt"), inp.get("negative_prompt"))
            images = await load_all(refs)
            sizes = plan_legacy(family, inp, params, images)
            if state.error_in_200:
                return error_200(request_id)
            task = FakeTask(
                str(uuid.uuid4()),
                model,
                "results",
                family,
                str(inp["prompt"]),
                params.get("prompt_extend", True) is True,
                sizes,
                len(images),
            )
            if not sync:
                return submit(task, request_id)
            finish(task)
            return poll_body(request, task, request_id)

        return handler

    def finish(task: FakeTask) -> None:
        failed = state.fail_tasks
        if task.kind == "results" and not failed:
            task.failed = min(state.failed_results, len(task.sizes) - 1)
        keys = [] if failed else [store(size) for size in task.sizes[task.failed :]]
        task.finish(failed, keys)

    def poll_body(request: Request, task: FakeTask, request_id: str) -> Response:
        urls = [result_url(_base(request), key) for key in task.keys]
        output, usage = task_output(task, urls, (state.fail_code, state.fail_message))
        body: dict[str, Any] = {"request_id": request_id, "output": output}
        if usage is not None:
            body["usage"] = usage
        return _json(body)

    async def get_task(request: Request, body: Any, request_id: str) -> Response:
        task_id = request.path_params["task_id"]
        task = state.tasks.get(task_id)
        if task is None:
            output = {"task_id": task_id, "task_status": "UNKNOWN"}
            return _json({"request_id": request_id, "output": output})
        if task.advance(state.task_steps):
            finish(task)
        return poll_body(request, task, request_id)

    async def serve_result(request: Request) -> Response:
        state.downloads += 1
        fault = state.download_faults.take()
        if (early := await fault_response(fault, state.download_faults, _error_body)) is not None:
            return early
        key = request.path_params["name"].removesuffix(".png")
        if state.expire_urls:
            return xml_error(403, "AccessDenied", "Request has expired.")
        if key not in state.images:
            return xml_error(404, "NoSuchKey", "The specified key does not exist.")
        w, h = state.images[key]
        data = await asyncio.to_thread(encoded_image, w, h, "PNG")
        response = Response(data, media_type="image/png")
        return drip(response, state.download_faults) if fault == "slow_drip" else response

    services = "/api/v1/services/aigc"
    return Starlette(
        routes=[
            Route(
                f"{services}/multimodal-generation/generation",
                api(sync_generation),
                methods=["POST"],
            ),
            Route(
                f"{services}/image-generation/generation", api(async_generation), methods=["POST"]
            ),
            Route(
                f"{services}/text2image/image-synthesis", api(legacy(LEGACY_T2I)), methods=["POST"]
            ),
            Route(
                f"{services}/image2image/image-synthesis", api(legacy(LEGACY_I2I)), methods=["POST"]
            ),
            Route("/api/v1/tasks/{task_id}", api(get_task), methods=["GET"]),
            Route("/oss/{name}", serve_result, methods=["GET"]),
            Route("/_fake/img/{name}", serve_asset, methods=["GET"]),
        ]
    )
