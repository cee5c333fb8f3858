"""DashScope's async task API as a client dialect, so `dashscope.ImageSynthesis`
(`call`, `async_call`, `wait`, `fetch`) works with its base HTTP API URL set to the gateway.

* `POST /api/v1/services/aigc/text2image/image-synthesis` and `…/image2image/…` take the
  image-synthesis body `{model, input: {prompt, negative_prompt, images | base_image_url,
  mask_image_url, ref_img, sketch_image_url, function}, parameters}`. With
  `X-DashScope-Async: enable` the answer is `{"request_id", "output": {"task_id",
  "task_status": "PENDING"}}`; without it the request waits and answers the finished task.
* `POST /api/v1/services/aigc/image-generation/generation` is the same for the multimodal
  body (`input.messages`, wan2.6 / wan2.7), whose finished task carries `choices`.
* `GET /api/v1/tasks/{task_id}` answers DashScope's task JSON: `task_status` PENDING (queued),
  RUNNING (submitting or running), SUCCEEDED with `results[].url` (or `choices`) and
  `usage.image_count`, FAILED with `code` / `message`. A task id the key does not own is
  answered as DashScope answers an unknown one: HTTP 200, `task_status: "UNKNOWN"`.

`parameters.n` left out means 4 images for text-to-image models and 1 for wanx2.1-imageedit,
as on DashScope, so the reservation covers what the upstream will make; the key is billed
for the images actually produced.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pixelgate.core.models import ImageInput, ImageRequest, Operation, ResponseFormat, Size
from pixelgate.core.pipeline import ImageOutcome
from pixelgate.dialects.dashscope import NAME, choices, render_error
from pixelgate.dialects.fields import parse_data_url
from pixelgate.errors import InvalidParameter
from pixelgate.tasks.errors import error_from_row
from pixelgate.tasks.models import Task, TaskState

__all__ = [
    "CHOICES",
    "RESULTS",
    "parse_synthesis",
    "render_created",
    "render_finished",
    "render_task",
    "render_unknown",
]

RESULTS = "results"  # task family of image-synthesis tasks: output.results[].url
CHOICES = "choices"  # task family of image-generation tasks: output.choices[]
_IMAGE_FIELDS = ("base_image_url", "ref_img", "sketch_image_url")
_STATUS = {
    TaskState.QUEUED: "PENDING",
    TaskState.SUBMITTING: "RUNNING",
    TaskState.RUNNING: "RUNNING",
    TaskState.COMPLETED: "SUCCEEDED",
    TaskState.FAILED: "FAILED",
}


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None and name == "parameters":
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"{name} must be an object.", param=name)
    return value


def _images(inp: dict[str, Any]) -> tuple[list[ImageInput], ImageInput | None]:
    images: list[ImageInput] = []
    listed = inp.get("images")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
            raise InvalidParameter("input.images must be a list of URLs.", param="input.images")
        images += [parse_data_url(v, f"input.images[{i}]") for i, v in enumerate(listed)]
    for name in _IMAGE_FIELDS:
        value = inp.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidParameter(f"input.{name} must be a URL.", param=f"input.{name}")
        if value:
            images.append(parse_data_url(value, f"input.{name}"))
    mask = inp.get("mask_image_url")
    if mask is not None and not isinstance(mask, str):
        raise InvalidParameter("input.mask_image_url must be a URL.", param="input.mask_image_url")
    return images, parse_data_url(mask, "input.mask_image_url") if mask else None


def parse_synthesis(body: dict[str, Any], keep_upstream_urls: bool) -> ImageRequest:
    """An image-synthesis body → the canonical request (the body kept as `native`)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidParameter("model is required.", param="model")
    inp = _object(body, "input")
    prompt = inp.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidParameter("input.prompt is required.", param="input.prompt")
    negative = inp.get("negative_prompt")
    if negative is not None and not isinstance(negative, str):
        raise InvalidParameter(
            "input.negative_prompt must be a string.", param="input.negative_prompt"
        )
    params = _object(body, "parameters")
    raw_size = params.get("size")
    if raw_size is not None and not isinstance(raw_size, str):
        raise InvalidParameter(
            "parameters.size must be a string like 1024*1024.", param="parameters.size"
        )
    size = Size.parse(raw_size, "parameters.size") if raw_size else None
    n = params.get("n", 1 if "imageedit" in model else 4)
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidParameter("parameters.n must be an integer.", param="parameters.n")
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidParameter("parameters.seed must be an integer.", param="parameters.seed")
    images, mask = _images(inp)
    edit = mask is not None or inp.get("function") is not None
    return ImageRequest(
        model=model.strip(),
        prompt=prompt,
        operation=Operation.EDIT
        if edit
        else Operation.IMAGE_TO_IMAGE
        if images
        else Operation.GENERATE,
        n=n,
        size=size,
        negative_prompt=negative or None,
        seed=seed,
        response_format=ResponseFormat.URL,
        images=tuple(images),
        mask=mask,
        protocol=NAME,
        keep_upstream_urls=keep_upstream_urls,
        native=body,
    )


def _stamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if value else None


def _request_id() -> str:
    return str(uuid.uuid4())


def render_created(task: Task) -> dict[str, Any]:
    return {
        "request_id": _request_id(),
        "output": {"task_id": task.id, "task_status": _STATUS[task.state]},
    }


def render_unknown(task_id: str) -> dict[str, Any]:
    return {"request_id": _request_id(), "output": {"task_id": task_id, "task_status": "UNKNOWN"}}


def _succeeded(family: str | None, urls: list[str], output: dict[str, Any]) -> dict[str, Any]:
    if family == CHOICES:
        output["finished"] = True
        output["choices"] = choices(urls)
    else:
        output["results"] = [{"url": u} for u in urls]
        output["task_metrics"] = {"TOTAL": len(urls), "SUCCEEDED": len(urls), "FAILED": 0}
    return {"image_count": len(urls)}


def render_task(task: Task, urls: list[str]) -> dict[str, Any]:
    status = _STATUS[task.state]
    output: dict[str, Any] = {
        "task_id": task.id,
        "task_status": status,
        "submit_time": _stamp(task.created_at),
    }
    body: dict[str, Any] = {"request_id": _request_id(), "output": output}
    if task.state is not TaskState.QUEUED:
        output["scheduled_time"] = _stamp(task.created_at)
    if task.final:
        output["end_time"] = _stamp(task.finished_at or task.updated_at)
    if task.state is TaskState.COMPLETED:
        body["usage"] = _succeeded(task.family, urls, output)
    elif task.state is TaskState.FAILED:
        err = error_from_row(task.error_type, task.error_code, task.error_message)
        shaped = render_error(err)
        output["code"], output["message"] = shaped["code"], shaped["message"]
    return body


def render_finished(outcome: ImageOutcome, family: str, request_id: str) -> dict[str, Any]:
    """A sync image-synthesis call: the finished task, as DashScope's sync mode answers."""
    urls = [o.url for o in outcome.outputs if o.url]
    output: dict[str, Any] = {"task_id": request_id, "task_status": "SUCCEEDED"}
    usage = _succeeded(family, urls, output)
    return {"request_id": request_id, "output": output, "usage": usage}
