"""Validation rules of the xAI image fake (pure: no I/O). See tests/fakes/xai.py for the
protocol summary and the UNCONFIRMED choices.

`validate_xai(body, op, models, default_ratio)` returns an `XaiJob` or raises `XaiError`;
status 422 means "the JSON does not fit the schema" (rendered as axum-style plain text),
anything else is rendered as `{"code": "<status>", "error": message}`.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from dataclasses import dataclass
from typing import Any

from PIL import Image

__all__ = ["ASPECT_RATIOS", "XaiError", "XaiJob", "XaiModel", "default_models", "validate_xai"]

ASPECT_RATIOS = (
    "1:1", "3:4", "4:3", "9:16", "16:9", "2:3", "3:2",
    "9:19.5", "19.5:9", "9:20", "20:9", "1:2", "2:1", "auto",
)  # fmt: skip
_UNSUPPORTED = (
    "size", "style", "background", "output_format", "output_compression", "moderation",
    "stream", "partial_images", "input_fidelity",
)  # fmt: skip
_MAX_INPUT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class XaiModel:
    imagine: bool  # grok-imagine family: aspect_ratio, resolution, edits
    price_usd: float  # per output image (UNCONFIRMED except grok-imagine-image)
    quality: bool = False  # honours `quality`


def default_models() -> dict[str, XaiModel]:
    legacy = XaiModel(imagine=False, price_usd=0.07)
    return {
        "grok-imagine-image": XaiModel(imagine=True, price_usd=0.02),
        "grok-imagine-image-quality": XaiModel(imagine=True, price_usd=0.05),
        "grok-imagine-image-2.0": XaiModel(imagine=True, price_usd=0.02, quality=True),
        "grok-imagine-image-pro": XaiModel(imagine=True, price_usd=0.07),  # deprecated
        "grok-2-image": legacy,
        "grok-2-image-1212": legacy,
    }


class XaiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class XaiJob:
    model_id: str
    model: XaiModel
    prompt: str
    n: int
    response_format: str
    width: int
    height: int
    inputs: int  # input images (billed on edits)


def _describe(value: Any) -> str:
    """serde's wording for an unexpected JSON value."""
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    return "sequence" if isinstance(value, list) else "map"


def _typed(body: dict[str, Any], name: str, kind: type, expected: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise XaiError(422, f"{name}: invalid type: {_describe(value)}, expected {expected}")
    return value


def _ref(name: str, ref: Any) -> tuple[int, int] | None:
    """Check one `{"url": ...}` reference; return its pixel size when it is a data: URI."""
    if not isinstance(ref, dict):
        raise XaiError(422, f"{name}: invalid type: {_describe(ref)}, expected struct ImageUrl")
    url = ref.get("url")
    if not isinstance(url, str):
        raise XaiError(422, f"{name}: missing field `url`")
    if url.startswith(("https://", "http://")):
        return None  # not fetched by the fake
    header, _, payload = url.partition(",")
    if not (header.startswith("data:image/") and header.endswith(";base64")):
        raise XaiError(400, f"Invalid image url for {name}: expected an https URL or data URI.")
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise XaiError(400, f"Invalid image for {name}: could not decode base64 data.") from exc
    if len(data) > _MAX_INPUT_BYTES:
        raise XaiError(400, f"Image for {name} exceeds the maximum size of 10 MiB.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, size = img.format, img.size
    except Exception as exc:
        raise XaiError(400, f"Invalid image for {name}: unsupported or corrupt image.") from exc
    if fmt not in ("PNG", "JPEG", "WEBP"):
        raise XaiError(400, f"Unsupported image format for {name}: {fmt}. Use PNG, JPG or WebP.")
    return size


def _edit_inputs(body: dict[str, Any]) -> list[tuple[int, int] | None]:
    single, many = body.get("image"), body.get("images")
    if single is not None and many is not None:
        raise XaiError(400, "Only one of `image` or `images` may be provided.")
    if single is None and many is None:
        raise XaiError(400, "An input image is required: provide `image` or `images`.")
    if many is not None:
        if not isinstance(many, list):
            raise XaiError(422, f"images: invalid type: {_describe(many)}, expected a sequence")
        if not 1 <= len(many) <= 3:
            raise XaiError(400, "`images` must contain between 1 and 3 images.")
        refs = [_ref(f"images[{i}]", ref) for i, ref in enumerate(many)]
    else:
        refs = [_ref("image", single)]
    if body.get("mask") is not None:
        _ref("mask", body["mask"])
    return refs


def _dims(ratio: float, resolution: str) -> tuple[int, int]:
    edge = 1024 if resolution == "1k" else 2048
    height = math.sqrt(edge * edge / ratio)
    width = height * ratio
    return max(16, round(width / 16) * 16), max(16, round(height / 16) * 16)


def _ratio(text: str) -> float:
    if text == "auto":
        return 1.0
    a, b = text.split(":")
    return float(a) / float(b)


def validate_xai(
    body: Any, op: str, models: dict[str, XaiModel], default_ratio: str = "1:1"
) -> XaiJob:
    if not isinstance(body, dict):
        raise XaiError(422, f"invalid type: {_describe(body)}, expected struct ImageRequest")
    prompt = _typed(body, "prompt", str, "a string")
    model_id = _typed(body, "model", str, "a string") or "grok-imagine-image"
    n = _typed(body, "n", int, "u32")
    strings = ("response_format", "aspect_ratio", "resolution", "quality", "user")
    fmt, aspect, resolution, quality, _user = (_typed(body, k, str, "a string") for k in strings)
    if prompt is None:
        raise XaiError(422, "missing field `prompt`")
    model = models.get(model_id)
    if model is None:
        msg = f"The model {model_id} does not exist or your team does not have access to it."
        raise XaiError(404, msg)
    unsupported = [k for k in _UNSUPPORTED if body.get(k) is not None]
    if quality is not None and not model.quality:
        unsupported.append("quality")
    if not model.imagine:
        unsupported += [k for k in ("aspect_ratio", "resolution") if body.get(k) is not None]
    if unsupported:
        raise XaiError(400, f"Argument not supported: {unsupported[0]}")
    if not prompt.strip():
        raise XaiError(400, "The prompt must not be empty.")
    n = 1 if n is None else n
    if n < 0:
        raise XaiError(422, f"n: invalid value: integer `{n}`, expected u32")
    if not 1 <= n <= 10:
        raise XaiError(400, f"Invalid n: {n}. n must be between 1 and 10.")
    if fmt not in (None, "url", "b64_json"):
        raise XaiError(400, f"Invalid response_format: {fmt}. Expected 'url' or 'b64_json'.")
    if aspect is not None and aspect not in ASPECT_RATIOS:
        raise XaiError(
            400, f"Invalid aspect_ratio: {aspect}. Supported: {', '.join(ASPECT_RATIOS)}."
        )
    if resolution not in (None, "1k", "2k"):
        raise XaiError(400, f"Invalid resolution: {resolution}. Expected '1k' or '2k'.")
    if quality not in (None, "low", "medium", "high"):
        raise XaiError(400, f"Invalid quality: {quality}. Expected 'low', 'medium' or 'high'.")
    refs: list[tuple[int, int] | None] = []
    if op == "edit":
        if not model.imagine:
            raise XaiError(400, f"Model {model_id} does not support image editing.")
        refs = _edit_inputs(body)
    if not model.imagine:
        width, height = 1024, 768
    else:
        ratio = _ratio(aspect or default_ratio)
        first = refs[0] if len(refs) == 1 else None
        if aspect is None and first is not None:
            # a single-image edit follows the input's ratio, within the supported range
            ratio = min(max(first[0] / first[1], 9 / 20), 20 / 9)
        width, height = _dims(ratio, resolution or "1k")
    return XaiJob(model_id, model, prompt, n, fmt or "url", width, height, len(refs))
