"""Validation rules of the OpenAI Images fake (pure: no I/O).

`validate(call, catalog)` turns a parsed request (`Call`) into a resolved `Job`, or raises
`ApiError` carrying the status and the `{"error": {message, type, param, code}}` fields the
real API would answer with. Messages are paraphrased; status, type, param and code are what
callers should rely on. Used by tests/fakes/openai.py and tests/fakes/azure.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .openai_models import Family

__all__ = [
    "GPT_ONLY_GENERATION_FIELDS",
    "ApiError",
    "Call",
    "Catalog",
    "ImageInput",
    "Job",
    "Op",
    "validate",
]

Op = Literal["generate", "edit", "variation"]


class ApiError(Exception):
    """An error answer: HTTP status plus the OpenAI error object fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    @property
    def is_policy(self) -> bool:
        return self.code in ("moderation_blocked", "content_policy_violation")

    def body(self) -> dict[str, Any]:
        err = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return {"error": err}


def invalid(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


GPT_ONLY_GENERATION_FIELDS = frozenset(
    {"background", "moderation", "output_format", "output_compression", "stream", "partial_images"}
)
_COMMON = frozenset({"prompt", "model", "n", "size", "quality", "user", "safety_identifier"})
_GPT_OUTPUT = frozenset(
    {"background", "output_format", "output_compression", "stream", "partial_images"}
)
_DEFAULT_MODEL = {"generate": "dall-e-2", "edit": "gpt-image-1.5", "variation": "dall-e-2"}
_SIZE_RE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


@dataclass(frozen=True)
class ImageInput:
    """An input image as the fake saw it (bytes are never kept)."""

    field: str
    source: str  # "upload" | "data_url" | "url" | "file_id"
    size: int = 0
    filename: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None  # Pillow format name, None when not decodable / not fetched
    mode: str | None = None


@dataclass
class Call:
    """A parsed request: scalar fields (typed for JSON, strings for multipart) and images."""

    op: Op
    encoding: Literal["json", "multipart"]
    fields: dict[str, Any]
    images: list[ImageInput] = field(default_factory=list)
    mask: ImageInput | None = None


@dataclass(frozen=True)
class Catalog:
    models: dict[str, Family]
    reject_response_format_for_gpt: bool = True


@dataclass(frozen=True)
class Job:
    op: Op
    model: str
    family: Family
    prompt: str
    n: int
    width: int
    height: int
    size: str  # requested value ("auto" stays "auto")
    quality: str  # requested value
    background: str  # requested value
    output_format: str  # png | jpeg | webp
    output_compression: int
    response_format: str  # url | b64_json
    stream: bool
    partial_images: int
    style: str | None
    inputs: tuple[ImageInput, ...]

    @property
    def resolved_quality(self) -> str:
        # UNCONFIRMED: which quality "auto" resolves to; the fake picks "medium".
        return "medium" if self.quality == "auto" else self.quality

    @property
    def resolved_background(self) -> str:
        return "transparent" if self.background == "transparent" else "opaque"

    @property
    def resolved_size(self) -> str:
        return f"{self.width}x{self.height}"


def _int(call: Call, name: str, default: int) -> int:
    value = call.fields.get(name)
    if value is None:
        return default
    if isinstance(value, str) and call.encoding == "multipart" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"Invalid type for '{name}': expected an integer.", "invalid_type")
    return value


def _bool(call: Call, name: str) -> bool:
    value = call.fields.get(name)
    if value is None or value is False or value == "false":
        return False
    if value is True or value == "true":
        return True
    raise invalid(name, f"Invalid type for '{name}': expected a boolean.", "invalid_type")


def _str(call: Call, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = call.fields.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise invalid(name, f"Invalid value: {value!r}. Supported values are: {options}.")
    return value


def _range(name: str, value: int, low: int, high: int) -> int:
    if value < low:
        msg = f"{value} is less than the minimum of {low} - '{name}'"
        raise invalid(name, msg, "integer_below_min_value")
    if value > high:
        msg = f"{value} is greater than the maximum of {high} - '{name}'"
        raise invalid(name, msg, "integer_above_max_value")
    return value


def _model(call: Call, catalog: Catalog, override: str | None) -> tuple[str, Family]:
    model = override or call.fields.get("model")
    if model is None:
        model = _DEFAULT_MODEL[call.op]
        if call.op == "generate" and GPT_ONLY_GENERATION_FIELDS & call.fields.keys():
            model = "gpt-image-1"  # UNCONFIRMED which GPT model the spec's default rule picks
    if not isinstance(model, str):
        raise invalid("model", "Invalid type for 'model': expected a string.", "invalid_type")
    family = catalog.models.get(model)
    if family is None:
        msg = f"The model `{model}` does not exist or you do not have access to it."
        raise ApiError(404, msg, param="model", code="model_not_found")
    if call.op not in family.ops or (
        call.encoding == "json" and call.op == "edit" and not family.gpt
    ):
        raise invalid("model", f"Invalid value for 'model': {model!r} is not supported here.")
    return model, family


def _allowed(call: Call, family: Family, catalog: Catalog) -> frozenset[str]:
    if call.op == "variation":
        return frozenset({"image", "model", "n", "response_format", "size", "user"})
    allowed = set(_COMMON)
    if family.gpt:
        allowed |= _GPT_OUTPUT
        if call.op == "generate" or call.encoding == "json":
            allowed.add("moderation")  # multipart edits have no `moderation` field
        if call.op == "edit" and family.input_fidelity:
            allowed.add("input_fidelity")
        if not catalog.reject_response_format_for_gpt:
            allowed.add("response_format")
    else:
        allowed.add("response_format")
        if family.name == "dall-e-3":
            allowed.add("style")
    if call.op == "edit":
        allowed |= {"images", "mask"} if call.encoding == "json" else {"mask"}
    return frozenset(allowed)


def _size(call: Call, family: Family) -> tuple[str, int, int]:
    default = "auto" if family.auto_size else "1024x1024"
    size = call.fields.get("size") or default
    if size == "auto" and family.auto_size:
        return "auto", 1024, 1024
    if not isinstance(size, str):
        raise invalid("size", "Invalid type for 'size': expected a string.", "invalid_type")
    match = _SIZE_RE.match(size)
    if size in family.sizes and match:
        return size, int(match[1]), int(match[2])
    if family.flexible and match:
        w, h = int(match[1]), int(match[2])
        problem = _flexible_size_problem(w, h)
        if problem is None:
            return size, w, h
        raise invalid("size", f"Invalid size {size!r}: {problem}.")
    options = ", ".join(repr(s) for s in (*family.sizes, *(("auto",) if family.auto_size else ())))
    raise invalid("size", f"Invalid value: {size!r}. Supported values are: {options}.")


def _flexible_size_problem(w: int, h: int) -> str | None:
    if w % 16 or h % 16:
        return "width and height must be multiples of 16"
    if max(w, h) > 3840:
        return "the longest edge must be at most 3840 pixels"
    if max(w, h) > 3 * min(w, h):
        return "the aspect ratio must be between 1:3 and 3:1"
    if not 655_360 <= w * h <= 8_294_400:
        return "the total pixel count must be between 655,360 and 8,294,400"
    return None


def _prompt(call: Call, family: Family) -> str:
    prompt = call.fields.get("prompt")
    if call.op == "variation":
        return ""
    if prompt is None:
        raise invalid(
            "prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter"
        )
    if not isinstance(prompt, str):
        raise invalid("prompt", "Invalid type for 'prompt': expected a string.", "invalid_type")
    if not prompt:
        raise invalid("prompt", "Invalid 'prompt': empty string.", "empty_string")
    if len(prompt) > family.prompt_max:
        msg = f"Invalid 'prompt': string too long. Expected a string with maximum length {family.prompt_max}, but got a string with length {len(prompt)} instead."  # noqa: E501
        raise invalid("prompt", msg, "string_above_max_length")
    return prompt


def _check_inputs(call: Call, family: Family) -> None:
    if call.op == "generate":
        return
    if not call.images:
        name = "images" if call.encoding == "json" else "image"
        raise invalid(name, f"Missing required parameter: '{name}'.", "missing_required_parameter")
    limit = 16 if family.gpt else 1
    if len(call.images) > limit:
        msg = f"Invalid 'image': too many images. Expected at most {limit}."
        raise invalid("image", msg, "array_above_max_length")
    for i, img in enumerate(call.images, start=1):
        _check_image(img, i, family)
    first = call.images[0]
    needs_alpha = not family.gpt and call.op == "edit" and call.mask is None
    if needs_alpha and first.source == "upload" and first.mode not in ("RGBA", "LA", "L"):
        msg = f"Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {first.mode}."
        raise invalid("image", msg, "invalid_image_mode")
    if call.mask is not None:
        _check_mask(call.mask, call.images[0])


def _check_image(img: ImageInput, index: int, family: Family) -> None:
    if img.source in ("url", "file_id"):
        return  # not fetched by the fake
    if img.format is None:
        msg = f"Invalid image file or mode for image {index}, please check your image file."
        raise invalid(img.field, msg, "invalid_image_file")
    if family.gpt:
        if img.format not in ("PNG", "JPEG", "WEBP"):
            msg = f"Invalid image format for image {index}: {img.format}. Use png, webp or jpg."
            raise invalid(img.field, msg, "invalid_image_format")
        if img.size >= 50 * 1024 * 1024:
            raise invalid(img.field, f"Image {index} must be less than 50MB.", "image_too_large")
        return
    if img.format != "PNG":
        raise invalid(img.field, "Uploaded image must be a PNG.", "invalid_image_format")
    if img.size >= 4 * 1024 * 1024:
        raise invalid(img.field, "Uploaded image must be less than 4 MB.", "image_too_large")
    if img.width != img.height:
        raise invalid(img.field, "Uploaded image must be square.", "invalid_image_dimensions")


def _check_mask(mask: ImageInput, first: ImageInput) -> None:
    if mask.source in ("url", "file_id"):
        return
    if mask.format != "PNG":
        raise invalid("mask", "Invalid mask image: must be a PNG file.", "invalid_image_format")
    if mask.size >= 4 * 1024 * 1024:
        raise invalid("mask", "Mask image must be less than 4 MB.", "image_too_large")
    if mask.mode not in ("RGBA", "LA"):
        msg = f"Invalid mask image: must have an alpha channel, got mode {mask.mode}."
        raise invalid("mask", msg, "invalid_image_mode")
    if first.width is not None and (mask.width, mask.height) != (first.width, first.height):
        msg = (
            f"Invalid mask image: mask size {mask.width}x{mask.height} does not match image "
            f"size {first.width}x{first.height}."
        )
        raise invalid("mask", msg, "invalid_image_dimensions")


def validate(call: Call, catalog: Catalog, model_override: str | None = None) -> Job:
    """Resolve a request against the real API's rules, or raise `ApiError`."""
    model, family = _model(call, catalog, model_override)
    allowed = _allowed(call, family, catalog)
    for name in call.fields:
        if name not in allowed:
            raise invalid(name, f"Unknown parameter: '{name}'.", "unknown_parameter")
    prompt = _prompt(call, family)
    n = _range("n", _int(call, "n", 1), 1, 10)
    if n > family.max_n:
        raise invalid("n", "You must provide n=1 for this model.")
    size, width, height = _size(call, family)
    quality = _str(call, "quality", family.qualities, "auto" if family.gpt else "standard")
    response_format = _str(call, "response_format", ("url", "b64_json"), "url")
    style = (
        _str(call, "style", ("vivid", "natural"), "vivid") if family.name == "dall-e-3" else None
    )
    if family.gpt:
        response_format = "b64_json"
    _str(call, "moderation", ("low", "auto"), "auto")
    _str(call, "input_fidelity", ("high", "low"), "low")
    output_format = _str(call, "output_format", ("png", "jpeg", "webp"), "png")
    background = _str(call, "background", ("transparent", "opaque", "auto"), "auto")
    if background == "transparent" and output_format == "jpeg":
        msg = "Transparent background is only supported with output_format 'png' or 'webp'."
        raise invalid("background", msg)
    compression = _range("output_compression", _int(call, "output_compression", 100), 0, 100)
    if output_format == "png" and compression < 100:
        msg = "Compression less than 100 is not supported for PNG output format."
        raise invalid("output_compression", msg)
    stream = _bool(call, "stream")
    partial = _range("partial_images", _int(call, "partial_images", 0), 0, 3)
    _check_inputs(call, family)
    inputs = tuple(call.images)  # the mask is not billed as an input image
    return Job(
        call.op, model, family, prompt, n, width, height, size, quality, background,
        output_format, compression, response_format, stream, partial, style, inputs,
    )  # fmt: skip
