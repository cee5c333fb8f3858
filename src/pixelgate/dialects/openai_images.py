"""OpenAI Images dialect: `POST /v1/images/generations` and `POST /v1/images/edits`.

Parses flat OpenAI JSON (and the edits multipart / JSON forms) into ImageRequest and renders
`{"created", "data": [...], "usage", ...}` and `{"error": {message, type, param, code}}`.
Fields the gateway does not model are kept in `ImageRequest.native`, never rejected.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

from starlette.datastructures import FormData, UploadFile

from pixelgate.core.models import ImageInput, ImageRequest, Operation, ResponseFormat, Usage
from pixelgate.core.pipeline import ImageOutcome
from pixelgate.core.streaming import PartialImage, StreamEvent
from pixelgate.dialects import openai_image_refs
from pixelgate.dialects.fields import (
    opt_bool,
    opt_format,
    opt_int,
    opt_size,
    opt_str,
    parse_data_url,
    reference_images,
    req_str,
    response_format,
)
from pixelgate.errors import GatewayError, InvalidParameter

__all__ = [
    "NAME",
    "parse_edit_form",
    "parse_edit_json",
    "parse_generation",
    "parse_generation_form",
    "parse_variation_form",
    "render",
    "render_error",
    "render_stream_event",
]

NAME = "openai"
_TIER = re.compile(r"^\s*\d(\.\d)?[kK]\s*$")


def _common(body: dict[str, Any], default_rf: ResponseFormat, form: bool) -> dict[str, Any]:
    n = opt_int(body, "n", form)
    resolution = opt_str(body, "resolution")
    size_field = opt_str(body, "size")
    if size_field is not None and _TIER.match(size_field):
        # DashScope / Ark size tiers ("2K") are resolutions, not pixel sizes.
        resolution = resolution or size_field.lower()
        body = {k: v for k, v in body.items() if k != "size"}
    return {
        "model": req_str(body, "model"),
        "prompt": req_str(body, "prompt"),
        "n": 1 if n is None else n,
        "size": opt_size(body),
        "quality": opt_str(body, "quality"),
        "output_format": opt_format(body),
        "output_compression": opt_int(body, "output_compression", form),
        "background": opt_str(body, "background"),
        "response_format": response_format(body, default_rf),
        "style": opt_str(body, "style"),
        "user": opt_str(body, "user"),
        "seed": opt_int(body, "seed", form),
        "negative_prompt": opt_str(body, "negative_prompt"),
        "stream": bool(opt_bool(body, "stream", form)),
        "partial_images": opt_int(body, "partial_images", form),
        "aspect_ratio": opt_str(body, "aspect_ratio"),
        "resolution": resolution,
    }


def parse_generation(body: dict[str, Any], default_rf: ResponseFormat) -> ImageRequest:
    """Flat JSON generations; reference images (seed 003's image_url / image_urls /
    reference_image_urls, or Ark's `image`) make it image-to-image."""
    refs = openai_image_refs.references(body) + reference_images(body)
    operation = openai_image_refs.generation_operation(body, bool(refs))
    return ImageRequest(
        **_common(body, default_rf, form=False), operation=operation, images=refs, native=body
    )


def _upload(part: UploadFile | str, param: str, data: bytes) -> ImageInput:
    if isinstance(part, str):
        raise InvalidParameter(f"{param} must be an uploaded file.", param=param)
    return ImageInput(data=data, content_type=part.content_type, filename=part.filename)


async def parse_edit_form(
    form: FormData, default_rf: ResponseFormat, max_images: int
) -> ImageRequest:
    scalars: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in ("image", "image[]", "mask"):
            continue
        if not isinstance(value, str):
            raise InvalidParameter(f"{key} must be a form field, not a file.", param=key)
        scalars[key] = value
    parts = [*form.getlist("image"), *form.getlist("image[]")]
    if not parts:
        raise InvalidParameter("image is required: upload it as a file part.", param="image")
    if len(parts) > max_images:
        raise InvalidParameter(f"At most {max_images} images may be sent.", param="image")
    images = []
    for i, part in enumerate(parts):
        param = "image" if len(parts) == 1 else f"image[{i}]"
        if isinstance(part, str):
            raise InvalidParameter(
                f"{param} must be an uploaded file (in curl: -F 'image=@file.png').", param=param
            )
        images.append(_upload(part, param, await part.read()))
    mask_part = form.get("mask")
    mask = None
    if mask_part is not None:
        if isinstance(mask_part, str):
            raise InvalidParameter("mask must be an uploaded file.", param="mask")
        mask = _upload(mask_part, "mask", await mask_part.read())
    native = {k: v for k, v in scalars.items()}
    return ImageRequest(
        **_common(scalars, default_rf, form=True),
        operation=Operation.EDIT,
        images=tuple(images),
        mask=mask,
        native=native,
    )


async def parse_variation_form(form: FormData, default_rf: ResponseFormat) -> ImageRequest:
    """dall-e-2 variations: one `image` file and no prompt."""
    scalars: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == "image":
            continue
        if not isinstance(value, str):
            raise InvalidParameter(f"{key} must be a form field, not a file.", param=key)
        scalars[key] = value
    part = form.get("image")
    if part is None or isinstance(part, str):
        raise InvalidParameter("image is required: upload it as a file part.", param="image")
    image = _upload(part, "image", await part.read())
    n = opt_int(scalars, "n", form=True)
    return ImageRequest(
        model=req_str(scalars, "model"),
        prompt="",
        operation=Operation.VARIATION,
        n=1 if n is None else n,
        size=opt_size(scalars),
        response_format=response_format(scalars, default_rf),
        output_format=opt_format(scalars),
        user=opt_str(scalars, "user"),
        images=(image,),
        native=scalars,
    )


async def parse_generation_form(
    form: FormData, default_rf: ResponseFormat, max_images: int
) -> ImageRequest:
    """A multipart generation: image-to-image with the uploaded `image` file(s) (seed 003)."""
    req = await parse_edit_form(form, default_rf, max_images)
    operation = openai_image_refs.generation_operation(req.native, has_references=True)
    return dataclasses.replace(req, operation=operation)


def _ref(value: Any, param: str) -> ImageInput:
    if not isinstance(value, dict) or set(value) - {"image_url", "file_id"}:
        raise InvalidParameter(f"{param} must be an object with image_url.", param=param)
    if "file_id" in value:
        raise InvalidParameter(f"{param}.file_id is not supported; use image_url.", param=param)
    url = value.get("image_url")
    if not isinstance(url, str):
        raise InvalidParameter(f"{param}.image_url must be a string.", param=param)
    return parse_data_url(url, param)


def parse_edit_json(
    body: dict[str, Any], default_rf: ResponseFormat, max_images: int
) -> ImageRequest:
    refs = body.get("images")
    if not isinstance(refs, list) or not refs:
        raise InvalidParameter("images must be a non-empty array of {image_url}.", param="images")
    if len(refs) > max_images:
        raise InvalidParameter(f"At most {max_images} images may be sent.", param="images")
    images = tuple(_ref(r, f"images[{i}]") for i, r in enumerate(refs))
    mask = _ref(body["mask"], "mask") if body.get("mask") is not None else None
    return ImageRequest(
        **_common(body, default_rf, form=False),
        operation=Operation.EDIT,
        images=images,
        mask=mask,
        native={k: v for k, v in body.items() if k not in ("images", "mask")},
    )


def render(outcome: ImageOutcome) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for out in outcome.outputs:
        item: dict[str, Any] = {"url": out.url} if out.url else {"b64_json": out.b64_json}
        if out.revised_prompt:
            item["revised_prompt"] = out.revised_prompt
        data.append(item)
    body: dict[str, Any] = {"created": int(time.time()), "data": data}
    result = outcome.result
    if outcome.echo_fields:
        if result.background:
            body["background"] = result.background
        if result.output_format:
            body["output_format"] = result.output_format.value
        if result.quality:
            body["quality"] = result.quality
        if result.size:
            body["size"] = str(result.size)
    if result.usage is not None and (result.usage.total_tokens or outcome.echo_fields):
        body["usage"] = _usage_json(result.usage)
    return body


def _usage_json(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {
            "text_tokens": u.input_text_tokens,
            "image_tokens": u.input_image_tokens,
        },
        "output_tokens": u.output_tokens,
        "output_tokens_details": {
            "image_tokens": u.output_image_tokens,
            "text_tokens": u.output_text_tokens,
        },
        "total_tokens": u.total_tokens,
    }


def render_stream_event(
    req: ImageRequest, event: StreamEvent, b64: str
) -> tuple[str, dict[str, Any]]:
    """OpenAI's image stream event (name, payload) for one partial or completed image."""
    prefix = "image_generation" if req.operation is Operation.GENERATE else "image_edit"
    fmt = req.output_format.value if req.output_format else "png"
    common: dict[str, Any] = {
        "b64_json": b64,
        "created_at": int(time.time()),
        "size": str(req.size) if req.size else "auto",
        "quality": req.quality or "auto",
        "background": req.background or "auto",
        "output_format": fmt,
    }
    if isinstance(event, PartialImage):
        name = f"{prefix}.partial_image"
        return name, {"type": name, **common, "partial_image_index": event.partial_index}
    name = f"{prefix}.completed"
    for key in ("size", "quality", "background"):
        value = getattr(event, key)
        if value:
            common[key] = value
    if event.output_format is not None:
        common["output_format"] = event.output_format.value
    payload: dict[str, Any] = {"type": name, **common}
    if event.usage is not None:
        usage = _usage_json(event.usage)
        usage.pop("output_tokens_details")
        payload["usage"] = usage
    return name, payload


def render_error(err: GatewayError) -> dict[str, Any]:
    return {
        "error": {
            "message": err.message,
            "type": err.type,
            "param": err.param,
            "code": err.error_code,
        }
    }
