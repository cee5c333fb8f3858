"""Fake of a midjourney-proxy server (protocol doc §4; novicezk + trueai) for loopback tests.

Endpoints (JSON, camelCase, `mj-api-secret` header when `api_secret` is set):
  POST /mj/submit/imagine             {prompt, base64Array?, botType?, notifyHook?, state?}
  POST /mj/submit/action              {taskId, customId, notifyHook?, state?}
  GET  /mj/task/{id}/fetch            task object (§4.4); unknown id -> 200 with an empty body
  POST /mj/task/list-by-condition     {"ids": [...]} -> [task, ...]   (also /list-by-ids)
  GET  /mj/task/list                  every task, newest first
  GET  /attachments/<instance>/<task>/<file>   images (no auth, like the Discord CDN)

Example::

    POST /mj/submit/imagine  mj-api-secret: mj-test-secret  {"prompt": "pig --ar 2:1"}
    -> 200 {"code": 1, "description": "提交成功", "result": "1730621826053455",
            "properties": {"discordInstanceId": "1118138338562560102"}}
    GET /mj/task/1730621826053455/fetch  (NOT_START, SUBMITTED "0%", IN_PROGRESS "33%"…, then)
    -> {"id": "1730621826053455", "action": "IMAGINE", "status": "SUCCESS", "progress": "100%",
        "imageUrl": "http://127.0.0.1:PORT/attachments/1118…/1730621826053455/grid_0.png",
        "failReason": null, "buttons": [{"customId": "MJ::JOB::upsample::1::<hash>", "label":
        "U1", "emoji": "", "style": 2, "type": 2}, …], "submitTime": 1730621826053, …}

Every observation (fetch or list-by-condition) moves a task one step: NOT_START -> SUBMITTED
-> IN_PROGRESS x `steps_per_task` (imageUrl = a low-res preview) -> SUCCESS (or FAILURE with
`fail_reason`). Imagine/variation/reroll/pan/zoom tasks serve a real 2x2 grid (four colours,
tiles `tile_size` wide, `--ar` respected); an upscale serves the chosen tile alone, Upscale
(Subtle/Creative) the tile at 2x. Codes: 1 submitted, 3 parent missing (HTTP 404), 4
validation, 21 same action already submitted, 22 queued, 23 queue full, 24 banned prompt.

UNCONFIRMED choices:
  * auth failure -> 401 with an empty body (novicezk interceptor); trueai answers 403.
  * queueing: more than `core_size` unfinished tasks -> 22 with `numberOfQueues`; a queue of
    `max_queue_size` -> 23 and no task; queued tasks still advance per observation.
  * 21 when the same customId is submitted again on the same parent task.
  * a customId that is not among the parent's buttons -> code 4; CustomZoom / Vary (Region)
    need /mj/submit/modal, which this fake does not offer -> code 4.
  * description "/up <parent> U1" style for actions; promptEn = prompt (no translation);
    upscale buttons follow MJ v6 (Upscale Subtle/Creative, Vary, Zoom Out, pan arrows).
  * 5xx/4xx fault bodies use Spring Boot's {timestamp, status, error, message, path}.
"""

from __future__ import annotations

import base64
import binascii
import http
import io
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import FaultSwitch, drip, fault_response
from .images import image_bytes

__all__ = ["MJTask", "MidjourneyFakeState", "RecordedRequest", "create_app"]

_B64 = re.compile(r"[A-Za-z0-9+/=_\-\s]+")
_DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,(.+)", re.DOTALL)
GRID_ACTIONS = ("IMAGINE", "VARIATION", "REROLL", "PAN", "ZOOM")
Handler = Callable[[Request, Any], Response]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON with base64 strings replaced by "<base64 len=N>"


@dataclass
class MJTask:
    id: str
    action: str
    prompt: str
    description: str
    state: str | None
    bot_type: str
    tile: tuple[int, int] = (128, 128)  # one grid tile (an upscale's whole image)
    color: tuple[int, int, int, int] | None = None  # set for single images: their colour
    fail_reason: str | None = None  # captured at submission from the state's switch
    parent_id: str | None = None
    custom_id: str = ""
    submit_time: int = field(default_factory=lambda: int(time.time() * 1000))
    start_time: int | None = None
    finish_time: int | None = None
    seen: int = 0
    status: str = "NOT_START"
    progress: str = "0%"
    hash: str = field(default_factory=lambda: f"{random.getrandbits(128):032x}")
    colors: list[tuple[int, int, int, int]] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)


@dataclass
class MidjourneyFakeState:
    api_secret: str | None = "mj-test-secret"  # None or "": no auth, like an unset api-secret
    faults: FaultSwitch = field(default_factory=FaultSwitch)
    requests: list[RecordedRequest] = field(default_factory=list)
    steps_per_task: int = 2  # observations answered IN_PROGRESS before the task finishes
    fail_reason: str | None = None  # set: tasks submitted from now on end FAILURE with it
    banned_words: list[str] = field(default_factory=lambda: ["bannedword"])
    core_size: int = 3  # unfinished tasks that run at once; beyond them submits answer 22
    max_queue_size: int = 10  # waiting tasks at which submits answer 23
    tile_size: int = 128  # width of one grid tile in pixels
    image_format: str = "png"  # png | webp
    instance_id: str = "1118138338562560102"
    submissions: Counter[str] = field(default_factory=Counter)  # accepted tasks per action
    tasks: dict[str, MJTask] = field(default_factory=dict)


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


def error_body(status: int, message: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    phrase = http.HTTPStatus(status).phrase
    return {"timestamp": now, "status": status, "error": phrase, "message": message, "path": ""}


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _result(code: int, description: str, result: Any = None, **props: Any) -> Response:
    body = {"code": code, "description": description, "result": result, "properties": props}
    return _json(body, 404 if code == 3 else 200)


def _button(custom_id: str, label: str = "", emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def buttons(task: MJTask) -> list[dict[str, Any]]:
    """The Discord buttons a finished task carries (§4.5 customId patterns)."""
    h = task.hash
    if task.action in GRID_ACTIONS:
        ups = [_button(f"MJ::JOB::upsample::{i}::{h}", f"U{i}") for i in range(1, 5)]
        variations = [_button(f"MJ::JOB::variation::{i}::{h}", f"V{i}") for i in range(1, 5)]
        return [*ups, _button(f"MJ::JOB::reroll::0::{h}::SOLO", emoji="🔄"), *variations]
    single = []
    if task.action == "UPSCALE":
        single = [
            _button(f"MJ::JOB::upsample_v6_2x_{kind}::1::{h}::SOLO", f"Upscale ({kind.title()})")
            for kind in ("subtle", "creative")
        ]
    single += [
        _button(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
        _button(f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
        _button(f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
        _button(f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
        _button(f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
        _button(f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍"),
    ]
    arrows = {"left": "⬅️", "right": "➡️", "up": "⬆️", "down": "⬇️"}
    return single + [_button(f"MJ::JOB::pan_{d}::1::{h}::SOLO", emoji=e) for d, e in arrows.items()]


def _classify(custom_id: str) -> tuple[str, int] | None:
    """(task action, tile index) for a supported customId; index 0 for whole-image actions."""
    if m := re.match(r"MJ::JOB::(upsample|variation)::([1-4])::", custom_id):
        return ("UPSCALE" if m[1] == "upsample" else "VARIATION"), int(m[2])
    prefixes = {"MJ::JOB::reroll::": "REROLL", "MJ::JOB::high_variation::": "VARIATION"}
    prefixes |= {"MJ::JOB::low_variation::": "VARIATION", "MJ::JOB::pan_": "PAN"}
    prefixes |= {"MJ::Outpaint::": "ZOOM", "MJ::JOB::upsample_": "ACTION"}
    return next(((a, 0) for p, a in prefixes.items() if custom_id.startswith(p)), None)


def _tile_for(prompt: str, size: int) -> tuple[int, int]:
    ratio = re.search(r"--(?:ar|aspect)\s+(\d+)\s*:\s*(\d+)", prompt)
    if ratio and int(ratio[1]) and int(ratio[2]):
        return size, max(1, round(size * int(ratio[2]) / int(ratio[1])))
    return size, size


def render(task: MJTask, name: str, fmt: str) -> bytes:
    """The bytes of one of a task's images: grid_0, upscaled or preview."""
    w, h = task.tile
    if name.startswith("preview"):
        return image_bytes(max(1, w // 2), max(1, h // 2), fmt, (128, 128, 128, 255))
    if task.color is not None:
        return image_bytes(w, h, fmt, task.color)
    grid = Image.new("RGBA", (2 * w, 2 * h))
    for i, color in enumerate(task.colors):
        grid.paste(Image.new("RGBA", (w, h), color), ((i % 2) * w, (i // 2) * h))
    out = io.BytesIO()
    grid.save(out, format=fmt)
    return out.getvalue()


def create_app(state: MidjourneyFakeState) -> Starlette:
    ext = state.image_format.lower()

    def image_url(base: str, task: MJTask, name: str) -> str:
        return f"{base}/attachments/{state.instance_id}/{task.id}/{name}.{ext}"

    def view(task: MJTask, base: str) -> dict[str, Any]:
        url = None
        if task.status == "IN_PROGRESS":
            url = image_url(base, task, "preview")
        elif task.status == "SUCCESS":
            url = image_url(base, task, "upscaled" if task.color else "grid_0")
        return {
            "id": task.id, "action": task.action, "customId": task.custom_id,
            "botType": task.bot_type, "prompt": task.prompt, "promptEn": task.prompt,
            "description": task.description, "state": task.state, "submitTime": task.submit_time,
            "startTime": task.start_time, "finishTime": task.finish_time, "imageUrl": url,
            "status": task.status, "progress": task.progress, "failReason": (
                task.fail_reason if task.status == "FAILURE" else None),
            "parentId": task.parent_id,
            "properties": {"finalPrompt": task.prompt, "finalZhPrompt": "",
                           "discordInstanceId": state.instance_id, "messageHash": task.hash},
            "buttons": buttons(task) if task.status == "SUCCESS" else [],
        }  # fmt: skip

    def observe(task: MJTask) -> None:
        if task.status in ("SUCCESS", "FAILURE"):
            return
        task.seen += 1
        now = int(time.time() * 1000)
        if task.seen == 2:
            task.status, task.progress, task.start_time = "SUBMITTED", "0%", now
        elif 2 < task.seen <= state.steps_per_task + 2:
            done = round(100 * (task.seen - 2) / (state.steps_per_task + 1))
            task.status, task.progress = "IN_PROGRESS", f"{done}%"
        elif task.seen > state.steps_per_task + 2:
            task.finish_time = now
            failed = task.fail_reason is not None
            task.status, task.progress = ("FAILURE", "") if failed else ("SUCCESS", "100%")

    def admit(task: MJTask) -> Response:
        """Queue checks (22/23), then store the task and answer 1 or 22."""
        active = [t for t in state.tasks.values() if t.status not in ("SUCCESS", "FAILURE")]
        waiting = max(0, len(active) - state.core_size)
        instance = {"discordInstanceId": state.instance_id}
        if waiting >= state.max_queue_size:
            return _result(23, "队列已满，请稍后尝试", None, **instance)  # noqa: RUF001
        if not task.colors and task.color is None:
            rng = random.Random(task.hash)
            task.colors = [
                (rng.randrange(256), rng.randrange(256), rng.randrange(256), 255) for _ in range(4)
            ]
        state.tasks[task.id] = task
        state.submissions[task.action] += 1
        if waiting:
            queued = f"排队中，前面还有{waiting}个任务"  # noqa: RUF001
            return _result(22, queued, task.id, numberOfQueues=waiting, **instance)
        return _result(1, "提交成功", task.id, **instance)

    def new_id() -> str:
        return f"{int(time.time() * 1000)}{random.randrange(1000):03d}"

    def imagine(request: Request, body: dict[str, Any]) -> Response:
        prompt = str(body.get("prompt") or "").strip()
        if not prompt:
            return _result(4, "prompt不能为空")
        for word in state.banned_words:
            if re.search(rf"\b{re.escape(word.lower())}\b", prompt.lower()):
                return _result(24, "可能包含敏感词", None, promptEn=prompt, bannedWord=word)
        for item in body.get("base64Array") or []:
            match = _DATA_URL.fullmatch(item) if isinstance(item, str) else None
            try:
                base64.b64decode(match[1] if match else "!", validate=True)
            except (binascii.Error, ValueError):
                return _result(4, "base64格式错误")
        bot = "NIJI_JOURNEY" if body.get("botType") == "NIJI_JOURNEY" else "MID_JOURNEY"
        task = MJTask(new_id(), "IMAGINE", prompt, f"/imagine {prompt}", body.get("state"), bot)
        task.tile, task.fail_reason = _tile_for(prompt, state.tile_size), state.fail_reason
        return admit(task)

    def action(request: Request, body: dict[str, Any]) -> Response:
        task_id, custom_id = str(body.get("taskId") or ""), str(body.get("customId") or "")
        if not task_id.strip() or not custom_id.strip():
            return _result(4, "参数错误")
        parent = state.tasks.get(task_id)
        if parent is None:
            return _result(3, "关联任务不存在或已失效")
        if parent.status != "SUCCESS":
            return _result(4, "关联任务状态错误")
        for t in state.tasks.values():
            if t.parent_id == parent.id and t.custom_id == custom_id:
                url = view(t, str(request.base_url).rstrip("/"))["imageUrl"]
                return _result(21, "任务已存在", t.id, status=t.status, imageUrl=url)
        kind = _classify(custom_id)
        if custom_id not in {b["customId"] for b in buttons(parent)} or kind is None:
            return _result(4, f"不支持的操作: {custom_id}")
        act, index = kind
        label = f"{act[0]}{index}" if index else custom_id.split("::")[2]
        tile, color = parent.tile, None
        if act == "UPSCALE":
            color = parent.colors[index - 1]
        elif act == "ACTION":  # Upscale (Subtle/Creative): the same image at twice the size
            tile, color = (2 * tile[0], 2 * tile[1]), parent.color
        description = f"/up {parent.id} {label}"
        task = MJTask(new_id(), act, parent.prompt, description, body.get("state"), parent.bot_type)
        task.tile, task.color, task.parent_id, task.custom_id = tile, color, parent.id, custom_id
        task.fail_reason = state.fail_reason
        return admit(task)

    def fetch(request: Request, body: Any) -> Response:
        task = state.tasks.get(request.path_params["task_id"])
        if task is None:
            return Response(b"", 200)
        observe(task)
        return _json(view(task, str(request.base_url).rstrip("/")))

    def list_by_condition(request: Request, body: dict[str, Any]) -> Response:
        ids = [str(i).strip() for i in body.get("ids") or []]
        found = [state.tasks[i] for i in ids if i in state.tasks]
        for task in found:
            observe(task)
        return _json([view(t, str(request.base_url).rstrip("/")) for t in found])

    def list_all(request: Request, body: Any) -> Response:
        ordered = sorted(state.tasks.values(), key=lambda t: t.submit_time, reverse=True)
        return _json([view(t, str(request.base_url).rstrip("/")) for t in ordered[:100]])

    def attachment(request: Request, body: Any) -> Response:
        task = state.tasks.get(request.path_params["task_id"])
        name = request.path_params["name"]
        final = f"{'upscaled' if task and task.color else 'grid_0'}.{ext}"
        ok = task is not None and (
            (name == final and task.status == "SUCCESS")
            or (name == f"preview.{ext}" and task.seen > 2)
        )
        if not ok or task is None:
            return Response(b"Not Found", 404, media_type="text/plain")
        if name not in task.images:
            task.images[name] = render(task, name, ext.upper())
        return Response(task.images[name], media_type=f"image/{ext}")

    def endpoint(
        handler: Handler, json_body: bool = False, auth: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        """Record, draw a fault, check the secret and the JSON body, run `handler`."""

        async def run(request: Request) -> Response:
            raw = await request.body()
            body: Any = None
            try:
                body = orjson.loads(raw) if raw else None
                recorded = summarise(body)
            except orjson.JSONDecodeError:
                recorded = f"<unparsable body len={len(raw)}>"
            query, headers = dict(request.query_params), dict(request.headers)
            state.requests.append(
                RecordedRequest(request.method, request.url.path, query, headers, recorded)
            )
            fault = state.faults.take()
            if (early := await fault_response(fault, state.faults, error_body)) is not None:
                return early
            secret = request.headers.get("mj-api-secret")
            if auth and state.api_secret and secret != state.api_secret:
                response = Response(b"", 401)
            elif json_body and not isinstance(body, dict):
                response = _json(error_body(400, "Required request body is missing"), 400)
            else:
                response = handler(request, body)
            return drip(response, state.faults) if fault == "slow_drip" else response

        return run

    routes = [
        Route("/mj/submit/imagine", endpoint(imagine, json_body=True), methods=["POST"]),
        Route("/mj/submit/action", endpoint(action, json_body=True), methods=["POST"]),
        Route("/mj/task/{task_id}/fetch", endpoint(fetch), methods=["GET"]),
        Route(
            "/mj/task/list-by-condition",
            endpoint(list_by_condition, json_body=True),
            methods=["POST"],
        ),
        Route(
            "/mj/task/list-by-ids", endpoint(list_by_condition, json_body=True), methods=["POST"]
        ),
        Route("/mj/task/list", endpoint(list_all), methods=["GET"]),
        Route(
            "/attachments/{instance}/{task_id}/{name}",
            endpoint(attachment, auth=False),
            methods=["GET"],
        ),
    ]
    return Starlette(routes=routes)
