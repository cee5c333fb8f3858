"""The /v2/extend/image API (seed 001): three generation families, all answered as tasks.

    POST /v2/extend/image/seedream/generations   {prompt, size, image: [url | base64]}
    POST /v2/extend/image/generations            {model, prompt, size: 0.5K|1K|2K|4K,
                                                  aspect_ratio, output_format: image/png…}
    POST /v2/extend/image/gpt_image/generations  {prompt, size, quality, n, background,
                                                  output_format, output_compression}
    -> {"task_id": "task_…", "model": "…"}

    GET /v2/extend/image/tasks/{id} (also /seedream/tasks/{id}, /gpt_image/tasks/{id})
    -> {"task_id", "status": pending|processing|succeeded|failed, "model",
        "result": {"images": [{"url"}]} | null, "error": {"code", "message"} | null}

Errors: `{"error": {"code", "message", "type"}}` with the error's HTTP status.
Which configured model serves each family is configuration (`extend_v2:` in the YAML).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from pixelgate.core.models import ImageInput, ImageRequest, Operation, ResponseFormat
from pixelgate.dialects.fields import (
    opt_format,
    opt_int,
    opt_size,
    opt_str,
    parse_data_url,
    req_str,
)
from pixelgate.errors import GatewayError, InvalidParameter, ModelNotFound
from pixelgate.settings import ExtendFamily
from pixelgate.tasks.models import Task, TaskState

__all__ = [
    "FAMILIES",
    "GEMINI_DEFAULT",
    "NAME",
    "gemini_model",
    "parse",
    "render_created",
    "render_error",
    "render_task",
]

NAME = "extend_v2"
FAMILIES = ("seedream", "gemini", "gpt_image")
GEMINI_DEFAULT = "gemini-3.1-flash-image"
GEMINI_NAMES = frozenset({GEMINI_DEFAULT, "gemini-3-pro-image"})
RESOLUTIONS = ("0.5K", "1K", "2K", "4K")
_STATUS = {
    TaskState.QUEUED: "pending",
    TaskState.SUBMITTING: "pending",
    TaskState.RUNNING: "processing",
    TaskState.COMPLETED: "succeeded",
    TaskState.FAILED: "failed",
}
# Fields read into the canonical request (and so not forwarded as unknown extras).
_IMAGE_FIELDS = ("image", "images")


def gemini_model(body: dict[str, Any], family: ExtendFamily, known: Callable[[str], bool]) -> str:
    """The configured model for the Gemini family's `model` field (default
    gemini-3.1-flash-image): the family's mapping, a deployment of that name, or — for
    the two Gemini names — the family's model."""
    name = opt_str(body, "model") or GEMINI_DEFAULT
    if name in family.models:
        return family.models[name]
    if known(name):
        return name
    if name in GEMINI_NAMES:
        return family.model
    raise ModelNotFound(f"The model {name!r} does not exist.", param="model")


def _image(value: Any, param: str) -> ImageInput:
    if not isinstance(value, str) or not value:
        raise InvalidParameter(f"{param} must be a URL or base64 image.", param=param)
    if value.startswith(("http://", "https://", "data:")):
        return parse_data_url(value, param)
    try:
        return ImageInput(data=base64.b64decode(value, validate=True), param=param)
    except (binascii.Error, ValueError):
        raise InvalidParameter(f"{param} is neither a URL nor valid base64.", param=param) from None


def _images(body: dict[str, Any]) -> tuple[ImageInput, ...]:
    raw = body.get("image", body.get("images"))
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    return tuple(_image(v, f"image[{i}]") for i, v in enumerate(items))


def _seedream_size(body: dict[str, Any]) -> dict[str, Any]:
    value = opt_str(body, "size")
    if value is not None and value.strip().upper() in RESOLUTIONS:
        return {"resolution": value.strip().upper()}
    return {"size": opt_size(body)}


def parse(family: str, body: dict[str, Any], model: str) -> ImageRequest:
    """The canonical request for one family's body; `model` is the configured model."""
    native = {k: v for k, v in body.items() if k not in _IMAGE_FIELDS}
    common: dict[str, Any] = {
        "model": model,
        "prompt": req_str(body, "prompt"),
        "response_format": ResponseFormat.URL,
        "native": native,
        "user": opt_str(body, "user"),
        "seed": opt_int(body, "seed"),
        "negative_prompt": opt_str(body, "negative_prompt"),
    }
    if family == "seedream":
        images = _images(body)
        operation = Operation.IMAGE_TO_IMAGE if images else Operation.GENERATE
        return ImageRequest(**common, **_seedream_size(body), images=images, operation=operation)
    if family == "gemini":
        size = opt_str(body, "size")
        if size is not None and size.strip().upper() not in RESOLUTIONS:
            raise InvalidParameter(
                f"Invalid size {size!r}: expected one of {', '.join(RESOLUTIONS)}.", param="size"
            )
        return ImageRequest(
            **common,
            resolution=size.strip().upper() if size else None,
            aspect_ratio=opt_str(body, "aspect_ratio"),
            output_format=opt_format(body),
        )
    n = opt_int(body, "n")
    return ImageRequest(
        **common,
        n=1 if n is None else n,
        size=opt_size(body),
        quality=opt_str(body, "quality"),
        background=opt_str(body, "background"),
        output_format=opt_format(body),
        output_compression=opt_int(body, "output_compression"),
    )


def render_created(task: Task) -> dict[str, Any]:
    return {"task_id": task.id, "model": task.model}


def render_task(task: Task, urls: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_id": task.id,
        "status": _STATUS[task.state],
        "model": task.model,
        "result": None,
        "error": None,
    }
    if task.state is TaskState.COMPLETED:
        body["result"] = {"images": [{"url": url} for url in urls]}
    elif task.state is TaskState.FAILED:
        body["error"] = {"code": task.error_code, "message": task.error_message}
    elif task.progress is not None:
        body["progress"] = task.progress
    return body


def render_error(err: GatewayError) -> dict[str, Any]:
    return {"error": {"code": err.error_code, "message": err.message, "type": err.type}}
