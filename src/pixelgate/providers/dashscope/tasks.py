"""DashScope async image synthesis for the older Wan models, as a task the worker drives:
`POST {base}/services/aigc/text2image/image-synthesis` (or `image2image/…` for
wanx2.1-imageedit and wan2.5-i2i-preview) with `X-DashScope-Async: enable`, submitted once;
then `GET {base}/tasks/{task_id}` until a final status. Never polled inside a request.

Example submit::

    POST https://dashscope.aliyuncs.com/api/v1/services/aigc/text2image/image-synthesis
    Authorization: Bearer sk-...     X-DashScope-Async: enable
    {"model": "wan2.5-t2i-preview", "input": {"prompt": "a flower shop"},
     "parameters": {"size": "1280*1280", "n": 1}}
    -> {"request_id": "...", "output": {"task_id": "0385…", "task_status": "PENDING"}}

Example poll::

    GET https://dashscope.aliyuncs.com/api/v1/tasks/0385…
    -> {"output": {"task_id": "0385…", "task_status": "SUCCEEDED",
                   "results": [{"url": "https://…/x.png?Expires=…"}],
                   "task_metrics": {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0}},
        "usage": {"image_count": 1}}

PENDING / RUNNING / SUSPENDED keep polling; SUCCEEDED gives `results[].url` (entries that
carry `code` instead of a URL are the images that failed; only produced images are billed);
FAILED and CANCELED carry `output.code` / `message`; UNKNOWN means the task id expired or
never existed. Result links expire in 24 h: the worker stores them at once.

A body that arrived in DashScope's own shape is forwarded as it came (model id rewritten);
a canonical request is translated: `input.prompt` / `negative_prompt`, input images as
data URLs (`images[]` for wan2.5-i2i, `base_image_url` + `mask_image_url` for
wanx2.1-imageedit), `parameters` with `size` as `W*H`, `n`, `seed` and the DashScope
parameters the client sent.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from pixelgate.core.models import GeneratedImage, ImageFormat, ImageInput, ImageRequest, ImageResult
from pixelgate.errors import GatewayError, UpstreamBadResponse, UpstreamError
from pixelgate.providers.base import (
    Route,
    TaskDone,
    TaskFailed,
    TaskPending,
    TaskPoll,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTask,
    json_object,
)
from pixelgate.providers.dashscope.errors import (
    dashscope_error,
    error_in_body,
    map_dashscope_error,
)
from pixelgate.providers.dashscope.images import (
    DASHSCOPE_BASE,
    DASHSCOPE_PARAMETERS,
    data_url,
    request_headers,
)

__all__ = ["DashScopeTaskAdapter", "is_image2image", "is_task_model"]

T2I_PATH = "/services/aigc/text2image/image-synthesis"
I2I_PATH = "/services/aigc/image2image/image-synthesis"
# wanx-v1, wanx2.0/2.1-…, wan2.1/2.2/2.5-t2i-…, wan2.5-i2i-…: the image-synthesis models.
_TASK_MODEL = re.compile(r"^(wanx|wan2\.[0-5]-)")
_PENDING = frozenset({"PENDING", "RUNNING", "SUSPENDED"})
# Legacy-body `parameters` a canonical request may carry through (beyond size, n, seed).
_LEGACY_PARAMETERS = (
    *DASHSCOPE_PARAMETERS,
    "style",
    "ref_strength",
    "ref_mode",
    "sketch_weight",
    "realisticness",
    "strength",
    "upscale_factor",
    "top_scale",
    "bottom_scale",
    "left_scale",
    "right_scale",
    "is_sketch",
)


def is_task_model(model: str) -> bool:
    """Is this upstream model served only by DashScope's async image-synthesis API?"""
    return bool(_TASK_MODEL.match(model))


def is_image2image(model: str) -> bool:
    """The SDK's rule: image editing models go to image2image, the rest to text2image."""
    return "imageedit" in model or "wan2.5-i2i" in model


def _ref(item: ImageInput) -> str:
    """An input image as DashScope takes it: the client's URL if it gave one, else bytes."""
    return data_url(item) if item.data is not None else str(item.url)


def translate_legacy(req: ImageRequest, model: str) -> dict[str, Any]:
    """Canonical request → image-synthesis body."""
    inp: dict[str, Any] = {"prompt": req.prompt}
    if req.negative_prompt is not None:
        inp["negative_prompt"] = req.negative_prompt
    extra = req.native.get("parameters") if req.protocol == "dashscope" else None
    source = extra if isinstance(extra, dict) else req.native
    params = {k: source[k] for k in _LEGACY_PARAMETERS if k in source and k != "negative_prompt"}
    if "imageedit" in model:
        function = req.native.get("function")
        if not isinstance(function, str) or not function:
            function = "description_edit_with_mask" if req.mask else "description_edit"
        inp["function"] = function
        if req.images:
            inp["base_image_url"] = _ref(req.images[0])
        if req.mask is not None:
            inp["mask_image_url"] = _ref(req.mask)
    elif req.images:
        inp["images"] = [_ref(i) for i in req.images]
    params["n"] = req.n
    if req.size is not None:
        params["size"] = f"{req.size.width}*{req.size.height}"
    if req.seed is not None:
        params["seed"] = req.seed
    return {"model": model, "input": inp, "parameters": params}


def _legacy_native(req: ImageRequest) -> bool:
    inp = req.native.get("input") if req.protocol == "dashscope" else None
    return isinstance(inp, dict) and "prompt" in inp


def _json(resp: UpstreamResponse, route: Route) -> dict[str, Any]:
    body = json_object(resp, route)
    failure = error_in_body(body)
    if failure is not None:
        raise dashscope_error(resp.status, failure[0], failure[1], route)
    return body


def _images(output: dict[str, Any]) -> list[GeneratedImage]:
    images = []
    for item in output.get("results") or []:
        if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
            images.append(GeneratedImage(None, ImageFormat.PNG, url=item["url"]))
    for choice in output.get("choices") or []:  # image-generation tasks (wan2.6 / wan2.7)
        message = choice.get("message") if isinstance(choice, dict) else None
        for item in (message or {}).get("content") or []:
            if isinstance(item, dict) and isinstance(item.get("image"), str):
                images.append(GeneratedImage(None, ImageFormat.PNG, url=item["image"]))
    return images


def _failure(output: dict[str, Any], task: UpstreamTask, route: Route) -> GatewayError:
    status = str(output.get("task_status"))
    if status == "UNKNOWN":
        return UpstreamError(
            f"The upstream no longer knows task {task.id} (expired or never created).",
            code="upstream_task_not_found",
        )
    code = str(output.get("code") or "")
    message = str(output.get("message") or "")
    if status == "CANCELED":
        return UpstreamError(f"The upstream task {task.id} was canceled.", code="upstream_canceled")
    # A task's failure is the upstream's verdict on this work, whatever HTTP said.
    err = dashscope_error(400 if code.startswith("InvalidParameter") else 500, code, message, route)
    if isinstance(err, UpstreamError) and message:
        return UpstreamError(f"The upstream failed to generate the image: {message} ({code}).")
    return err


class DashScopeTaskAdapter:
    def submit_request(self, req: ImageRequest, route: Route, marker: str) -> UpstreamRequest:
        model = route.upstream_model
        if _legacy_native(req):
            body = dict(req.native)
            body["model"] = model
            if not isinstance(body.get("parameters"), dict):
                body["parameters"] = {}
        else:
            body = translate_legacy(req, model)
        base = route.provider.base_url or DASHSCOPE_BASE
        path = I2I_PATH if is_image2image(model) else T2I_PATH
        headers = request_headers(route) | {"X-DashScope-Async": "enable"}
        return UpstreamRequest("POST", base + path, headers, orjson.dumps(body))

    def parse_submit(self, resp: UpstreamResponse, route: Route) -> UpstreamTask:
        output = _json(resp, route).get("output")
        task_id = output.get("task_id") if isinstance(output, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise UpstreamBadResponse(f"The upstream of {route.name} returned no task id.")
        return UpstreamTask(task_id)

    def poll_request(self, task: UpstreamTask, route: Route) -> UpstreamRequest:
        base = route.provider.base_url or DASHSCOPE_BASE
        headers = request_headers(route)
        headers.pop("Content-Type", None)
        return UpstreamRequest("GET", f"{base}/tasks/{task.id}", headers)

    def parse_poll(self, resp: UpstreamResponse, task: UpstreamTask, route: Route) -> TaskPoll:
        if resp.status >= 400:
            raise self.map_error(resp, route)
        raw = _json(resp, route).get("output")
        if not isinstance(raw, dict):
            raise UpstreamBadResponse(f"The upstream of {route.name} sent no task output.")
        status = raw.get("task_status")
        if status in _PENDING:
            return TaskPending()
        if status != "SUCCEEDED":
            return TaskFailed(_failure(raw, task, route))
        images = _images(raw)
        if not images:
            failed = [r for r in raw.get("results") or [] if isinstance(r, dict)]
            first = failed[0] if failed else {}
            return TaskFailed(_failure({"task_status": "FAILED", **first}, task, route))
        return TaskDone(ImageResult(images=tuple(images)))

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        return map_dashscope_error(resp, route)
