"""BFL FLUX task adapter: `POST {base}/v1/<model>`, then `GET <polling_url>` until done.

Example submit::

    POST https://api.bfl.ai/v1/flux-pro-1.1
    x-key: bfl-…
    {"prompt": "a red fox", "width": 1024, "height": 768, "output_format": "jpeg"}
    -> {"id": "b9b1…", "polling_url": "https://api.us1.bfl.ai/v1/get_result?id=b9b1…",
        "cost": 4.0, "input_mp": 0.0, "output_mp": 0.79}

Example poll::

    GET https://api.us1.bfl.ai/v1/get_result?id=b9b1…   x-key: bfl-…
    -> {"id": "b9b1…", "status": "Ready", "result": {"sample": "https://delivery-us1.bfl.ai/
        …/sample.jpeg?se=…&sig=…", "prompt": "a red fox", "seed": 42}, "progress": null}

Statuses: Pending / Reasoning / Generating (and anything unknown) keep polling; Ready gives
`result.sample`, a link valid for 10 minutes that the worker downloads into the gateway's
own store at once; Error, Content Moderated, Request Moderated and Task not found fail the
task. The polling URL may be on another host than the submit: it is always used as given.
Canonical fields map to BFL's (`size` → width/height, `aspect_ratio`, `output_format`,
`seed`, input images → `input_image`, `input_image_2`…, base64); other client fields pass
through as the model's contract allows (`safety_tolerance`, `prompt_upsampling`, `raw`…).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from pixelgate.core.models import GeneratedImage, ImageFormat, ImageRequest, ImageResult, Usage
from pixelgate.errors import ContentPolicyError, GatewayError, UpstreamBadResponse, UpstreamError
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
from pixelgate.providers.bfl.errors import map_bfl_error
from pixelgate.providers.openai.endpoint import extra_headers

__all__ = ["BFL_BASE", "BflTaskAdapter"]

BFL_BASE = "https://api.bfl.ai"
MICROS_PER_CREDIT = 10_000  # 1 credit = $0.01
# Written by the adapter from canonical fields, or the gateway's own: never passed through.
_HANDLED = frozenset(
    {"model", "prompt", "n", "size", "response_format", "output_format", "seed",
     "aspect_ratio", "image", "images", "mask", "stream", "partial_images",
     "output_compression", "quality", "background", "style", "resolution",
     "negative_prompt"}
)  # fmt: skip
_IMAGE_FIELDS = ("input_image", "input_image_2", "input_image_3", "input_image_4")
_FAILED = {
    "Error": "upstream_generation_error",
    "Content Moderated": "content_moderated",
    "Request Moderated": "request_moderated",
    "Task not found": "upstream_task_not_found",
}


def _headers(route: Route) -> dict[str, str]:
    headers = extra_headers(route)
    if route.api_key is not None:
        headers["x-key"] = route.api_key.get_secret_value()
    return headers


def _failure(status: str, body: dict[str, Any], task: UpstreamTask) -> GatewayError:
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    code = _FAILED[status]
    if status.endswith("Moderated"):
        reasons = details.get("Moderation Reasons") if details else None
        why = f" ({', '.join(map(str, reasons))})" if isinstance(reasons, list) else ""
        what = "the request" if status == "Request Moderated" else "the generated image"
        return ContentPolicyError(f"The upstream's moderation blocked {what}{why}.", code=code)
    if status == "Task not found":
        return UpstreamError(f"The upstream no longer knows task {task.id}.", code=code)
    reason = details.get("error") if details else None
    return UpstreamError(
        f"The upstream failed to generate the image: {reason or status}.", code=code
    )


class BflTaskAdapter:
    def submit_request(self, req: ImageRequest, route: Route, marker: str) -> UpstreamRequest:
        body: dict[str, Any] = {k: v for k, v in req.upstream_params.items() if k not in _HANDLED}
        body["prompt"] = req.prompt
        if req.size is not None:
            body["width"], body["height"] = req.size.width, req.size.height
        if req.aspect_ratio is not None:
            body["aspect_ratio"] = req.aspect_ratio
        if req.output_format is not None:
            body["output_format"] = req.output_format.value
        if req.seed is not None:
            body["seed"] = req.seed
        for name, item in zip(_IMAGE_FIELDS, req.images, strict=False):
            assert item.data is not None
            body[name] = base64.b64encode(item.data).decode("ascii")
        headers = _headers(route) | {"Content-Type": "application/json"}
        base = route.provider.base_url or BFL_BASE
        url = f"{base}/v1/{route.upstream_model}"
        return UpstreamRequest("POST", url, headers, orjson.dumps(body))

    def parse_submit(self, resp: UpstreamResponse, route: Route) -> UpstreamTask:
        body = json_object(resp, route)
        task_id = body.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise UpstreamBadResponse(f"The upstream of {route.name} returned no task id.")
        base = route.provider.base_url or BFL_BASE
        polling = body.get("polling_url")
        data = {"polling_url": polling if isinstance(polling, str) and polling else ""}
        if not data["polling_url"]:
            data["polling_url"] = f"{base}/v1/get_result?id={task_id}"
        cost = body.get("cost")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            data["cost_micros"] = str(round(cost * MICROS_PER_CREDIT))
        return UpstreamTask(task_id, data)

    def poll_request(self, task: UpstreamTask, route: Route) -> UpstreamRequest:
        return UpstreamRequest("GET", task.data["polling_url"], _headers(route))

    def parse_poll(self, resp: UpstreamResponse, task: UpstreamTask, route: Route) -> TaskPoll:
        try:
            body: dict[str, Any] | None = json_object(resp, route)
        except UpstreamBadResponse:
            if resp.status >= 400:
                raise self.map_error(resp, route) from None
            raise
        assert body is not None
        status = body.get("status")
        if status == "Task not found":
            return TaskFailed(_failure(status, body, task))
        if resp.status >= 400:
            raise self.map_error(resp, route)
        if status == "Ready":
            result = body.get("result") if isinstance(body.get("result"), dict) else {}
            sample = result.get("sample") if result else None
            if not isinstance(sample, str) or not sample:
                raise UpstreamBadResponse(f"The upstream of {route.name} sent no result.sample.")
            image = GeneratedImage(None, ImageFormat.JPEG, url=sample)
            cost = task.data.get("cost_micros", "")
            usage = Usage(upstream_cost_micros=int(cost)) if cost.isdigit() else None
            return TaskDone(ImageResult(images=(image,), usage=usage))
        if isinstance(status, str) and status in _FAILED:
            return TaskFailed(_failure(status, body, task))
        progress = body.get("progress")
        if isinstance(progress, int | float) and not isinstance(progress, bool):
            return TaskPending(max(0, min(99, round(progress * 100))))
        return TaskPending()

    def map_error(self, resp: UpstreamResponse, route: Route) -> GatewayError:
        return map_bfl_error(resp, route)
