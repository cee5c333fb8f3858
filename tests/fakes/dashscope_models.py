"""Model rules of the DashScope fake: which endpoint serves a model, parameter checks, output sizes.

Sources: protocol reference §1.3-§1.6 (shared docs). Ranges tagged [3P] or UNCONFIRMED there are
enforced as written; each such choice is listed in `tests/fakes/dashscope.py`'s docstring.

The checks run in two steps: `check_*` before any input image is fetched (counts, types), then
`plan_*` with the decoded images, returning one (width, height) per image to generate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from tests.fakes.dashscope_media import InputImage

__all__ = [
    "LEGACY_I2I",
    "LEGACY_T2I",
    "MULTIMODAL",
    "SYNC_T2I",
    "DashScopeError",
    "Prompt",
    "check_legacy",
    "check_multimodal",
    "family_of",
    "parse_messages",
    "plan_legacy",
    "plan_multimodal",
]

Size = tuple[int, int]

MULTIMODAL: dict[str, str] = {
    "wan2.6-t2i": "wan26_t2i",
    "wan2.6-image": "wan26_image",
    "wan2.7-image": "wan27",
    "wan2.7-image-pro": "wan27_pro",
    "qwen-image": "qwen_fixed",
    "qwen-image-plus": "qwen_fixed",
    "qwen-image-max": "qwen_fixed",
    "qwen-image-2.0": "qwen2",
    "qwen-image-2.0-pro": "qwen2",
    "qwen-image-edit": "qwen_edit",
    "qwen-image-edit-plus": "qwen_edit_plus",
    "qwen-image-edit-max": "qwen_edit_plus",
}
LEGACY_T2I: dict[str, str] = {
    "wanx-v1": "side",
    "wanx-sketch-to-image-v1": "sketch",
    "wanx2.0-t2i-turbo": "side",
    "wanx2.1-t2i-turbo": "side",
    "wanx2.1-t2i-plus": "side",
    "wan2.1-t2i-turbo": "side",
    "wan2.1-t2i-plus": "side",
    "wan2.2-t2i-flash": "side",
    "wan2.2-t2i-plus": "side",
    "wan2.5-t2i-preview": "area25",
}
LEGACY_I2I: dict[str, str] = {"wanx2.1-imageedit": "imageedit", "wan2.5-i2i-preview": "i2i25"}
SYNC_T2I = frozenset({"wan2.2-t2i-flash", "wan2.2-t2i-plus"})
IMAGEEDIT_FUNCTIONS = frozenset(
    {
        "stylization_all",
        "stylization_local",
        "description_edit",
        "description_edit_with_mask",
        "remove_watermark",
        "expand",
        "super_resolution",
        "colorization",
        "doodle",
        "control_cartoon_feature",
    }
)
QWEN_FIXED_SIZES = frozenset({"1664*928", "1472*1104", "1328*1328", "1104*1472", "928*1664"})
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_STAR = re.compile(r"^(\d{2,5})\*(\d{2,5})$")
_MAX_SEED = 2147483647


class DashScopeError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> DashScopeError:
    return DashScopeError(400, "InvalidParameter", message)


def family_of(model: str, table: dict[str, str]) -> str | None:
    """Family of a model id; dated snapshots (`qwen-image-plus-2026-01-09`) map to their base."""
    return table.get(model) or table.get(_SNAPSHOT.sub("", model))


@dataclass(frozen=True)
class Prompt:
    text: str
    images: list[str]


def parse_messages(inp: dict[str, Any]) -> Prompt:
    messages = inp.get("messages")
    if not isinstance(messages, list) or len(messages) != 1:
        raise invalid("input.messages must hold exactly one message")
    message = messages[0]
    if not isinstance(message, dict) or message.get("role") != "user":
        raise invalid("The role of the message must be user")
    content = message.get("content")
    if not isinstance(content, list) or not content:
        raise invalid("message content must be a non-empty list")
    texts: list[str] = []
    images: list[str] = []
    for item in content:
        if isinstance(item, dict) and isinstance(item.get("text"), str) and len(item) == 1:
            texts.append(item["text"])
        elif isinstance(item, dict) and isinstance(item.get("image"), str) and len(item) == 1:
            images.append(item["image"])
        else:
            raise invalid("each content item must be {'text': str} or {'image': str}")
    if len(texts) != 1 or not texts[0].strip():
        raise invalid("content must hold exactly one non-empty text item")
    return Prompt(texts[0], images)


def _int(params: dict[str, Any], name: str, lo: int, hi: int, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid(f"parameters.{name} must be an integer in [{lo}, {hi}]")
    return value


def _check_common(params: dict[str, Any]) -> None:
    for name in ("prompt_extend", "watermark", "enable_sequential", "thinking_mode"):
        if name in params and not isinstance(params[name], bool):
            raise invalid(f"parameters.{name} must be a boolean")
    if "negative_prompt" in params and not isinstance(params["negative_prompt"], str):
        raise invalid("parameters.negative_prompt must be a string")
    if "seed" in params:
        _int(params, "seed", 0, _MAX_SEED, 0)


def _star(value: Any) -> Size:
    match = _STAR.match(value) if isinstance(value, str) else None
    if match is None:
        raise invalid(f"parameters.size {value!r} is not a valid W*H size")
    return int(match[1]), int(match[2])


def _area(size: Size, lo: int, hi: int, ratio: float) -> Size:
    w, h = size
    if not lo * lo <= w * h <= hi * hi or max(w, h) / min(w, h) > ratio:
        raise invalid(
            f"parameters.size {w}*{h} is out of range: total pixels must be between "
            f"{lo}*{lo} and {hi}*{hi} with aspect ratio within 1:{ratio:g}"
        )
    return size


def _budget(side: int, aspect_from: InputImage | None) -> Size:
    """A size with about side*side pixels, square or following an input image's aspect."""
    if aspect_from is None:
        return side, side
    ratio = aspect_from.width / aspect_from.height
    w = max(16, round(side * math.sqrt(ratio) / 16) * 16)
    h = max(16, round(side / math.sqrt(ratio) / 16) * 16)
    return w, h


def check_multimodal(family: str, params: dict[str, Any], prompt: Prompt) -> None:
    """Checks that need no image bytes: counts, types, mutually exclusive options."""
    _check_common(params)
    count = len(prompt.images)
    limits = {
        "wan26_t2i": (0, 0),
        "wan26_image": (1, 4),
        "wan27": (0, 9),
        "wan27_pro": (0, 9),
        "qwen_fixed": (0, 0),
        "qwen2": (0, 3),
        "qwen_edit": (1, 3),
        "qwen_edit_plus": (1, 3),
    }
    lo, hi = limits[family]
    if not lo <= count <= hi:
        raise invalid(f"this model accepts {lo} to {hi} input images, got {count}")
    if family == "wan26_image" and params.get("enable_interleave") is True:
        raise invalid("enable_interleave=true is only supported with streaming output")
    if "bbox_list" in params:
        boxes = params["bbox_list"]
        if not family.startswith("wan27") or not isinstance(boxes, list) or len(boxes) != count:
            raise invalid("parameters.bbox_list must hold one list of boxes per input image")


def _check_inputs(family: str, images: list[InputImage]) -> None:
    if family.startswith("qwen"):
        allowed, max_bytes, sides, ratio = {"JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF"}, 10, 0, 0.0
    elif family == "wan26_image":
        allowed, max_bytes, sides, ratio = {"JPEG", "PNG", "BMP", "WEBP"}, 10, 240, 0.0
    else:
        allowed, max_bytes, sides, ratio = {"JPEG", "PNG", "BMP", "WEBP"}, 20, 240, 8.0
    for index, img in enumerate(images, start=1):
        where = f"input image {index}"
        if img.fmt not in allowed:
            raise invalid(f"{where}: unsupported image format {img.fmt or 'unknown'}")
        if img.nbytes > max_bytes * 1024 * 1024:
            raise invalid(f"{where}: image exceeds {max_bytes} MB")
        if sides and not (
            sides <= min(img.width, img.height) and max(img.width, img.height) <= 8000
        ):
            raise invalid(f"{where}: width and height must be within [{sides}, 8000] pixels")
        longer, shorter = max(img.width, img.height), min(img.width, img.height)
        if ratio and longer / shorter > ratio:
            raise invalid(f"{where}: aspect ratio must be within 1:{ratio:g}")
        if family == "wan26_image" and img.fmt == "PNG" and img.has_alpha:
            raise invalid(f"{where}: PNG images with an alpha channel are not supported")


def _check_boxes(boxes: list[Any], images: list[InputImage]) -> None:
    for img, per_image in zip(images, boxes, strict=True):
        if not isinstance(per_image, list):
            raise invalid("parameters.bbox_list entries must be lists of boxes")
        for box in per_image:
            ok = (
                isinstance(box, list)
                and len(box) == 4
                and all(isinstance(v, int) and not isinstance(v, bool) for v in box)
            )
            if not ok or not (
                0 <= box[0] < box[2] <= img.width and 0 <= box[1] < box[3] <= img.height
            ):
                raise invalid(f"parameters.bbox_list box {box!r} is not inside its image")


def plan_multimodal(family: str, params: dict[str, Any], images: list[InputImage]) -> list[Size]:
    _check_inputs(family, images)
    first = images[0] if images else None
    size = params.get("size")
    if family == "wan26_t2i":
        n = _int(params, "n", 1, 4, 4)
        return [_area(_star(size or "1280*1280"), 1280, 1440, 4.0)] * n
    if family == "wan26_image":
        n = _int(params, "n", 1, 4, 4)
        size = "1K" if size is None else size
        tiers = {"1K": 1280, "2K": 2048}
        if isinstance(size, str) and size in tiers:
            return [_budget(tiers[size], first)] * n
        return [_area(_star(size), 768, 2048, 4.0)] * n
    if family in ("wan27", "wan27_pro"):
        sequential = params.get("enable_sequential") is True
        n = _int(params, "n", 1, 12, 12) if sequential else _int(params, "n", 1, 4, 1)
        if "bbox_list" in params:
            _check_boxes(params["bbox_list"], images)
        size = size or "2K"
        if size == "4K" and (family != "wan27_pro" or images or sequential):
            raise invalid("size 4K is only supported by wan2.7-image-pro text-to-image, no sets")
        tiers = {"1K": 1024, "2K": 2048, "4K": 4096}
        if isinstance(size, str) and size in tiers:
            return [_budget(tiers[size], first)] * n
        return [_area(_star(size), 768, 4096, 8.0)] * n
    if family == "qwen_fixed":
        _int(params, "n", 1, 1, 1)
        size = size or "1664*928"
        if not isinstance(size, str) or size not in QWEN_FIXED_SIZES:
            raise invalid(f"parameters.size must be one of {sorted(QWEN_FIXED_SIZES)}")
        return [_star(size)]
    if family == "qwen2":
        n = _int(params, "n", 1, 6, 1)
        return [_area(_star(size or "2048*2048"), 512, 2048, float("inf"))] * n
    last = images[-1]
    if family == "qwen_edit":
        _int(params, "n", 1, 1, 1)
        return [_budget(1024, last)]
    n = _int(params, "n", 1, 6, 1)
    if size is None:
        return [_budget(1024, last)] * n
    w, h = _star(size)
    if not (512 <= w <= 2048 and 512 <= h <= 2048):
        raise invalid("parameters.size: width and height must each be within [512, 2048]")
    return [(w, h)] * n


def check_legacy(family: str, inp: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """Validate a text2image / image2image body; return the input image refs to fetch."""
    _check_common(params)
    prompt = inp.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("input.prompt is required")
    if family == "sketch":
        ref = inp.get("sketch_image_url")
        if not isinstance(ref, str) or not ref:
            raise invalid("input.sketch_image_url is required")
        return [ref]
    if family == "imageedit":
        function = inp.get("function")
        if function not in IMAGEEDIT_FUNCTIONS:
            raise invalid(f"input.function {function!r} is not supported")
        wanted: list[Any] = [inp.get("base_image_url")]
        if function == "description_edit_with_mask":
            wanted.append(inp.get("mask_image_url"))
        if not all(isinstance(ref, str) and ref for ref in wanted):
            raise invalid("input.base_image_url (and mask_image_url for masks) is required")
        return [str(ref) for ref in wanted]
    if family == "i2i25":
        images = inp.get("images")
        if not isinstance(images, list) or not 1 <= len(images) <= 3:
            raise invalid("input.images must hold 1 to 3 image URLs")
        if not all(isinstance(ref, str) and ref for ref in images):
            raise invalid("input.images entries must be URL strings")
        return [str(ref) for ref in images]
    ref_img = inp.get("ref_img")
    return [ref_img] if isinstance(ref_img, str) and ref_img else []


def plan_legacy(
    family: str, inp: dict[str, Any], params: dict[str, Any], images: list[InputImage]
) -> list[Size]:
    size = params.get("size")
    if family == "imageedit":
        n = _int(params, "n", 1, 4, 1)
        base = images[0]
        if len(images) > 1 and (images[1].width, images[1].height) != (base.width, base.height):
            raise invalid("mask_image_url must have the same resolution as base_image_url")
        factor = 1
        if inp.get("function") == "super_resolution":
            factor = _int(params, "upscale_factor", 1, 4, 1)
        return [(base.width * factor, base.height * factor)] * n
    n = _int(params, "n", 1, 4, 4)
    for img in images if family == "i2i25" else []:
        if min(img.width, img.height) < 384 or max(img.width, img.height) > 5000:
            raise invalid("input image width and height must be within [384, 5000] pixels")
    if family in ("area25", "i2i25"):
        return [_area(_star(size or "1280*1280"), 1280, 1440, 4.0)] * n
    w, h = _star(size or "1024*1024")
    if not (512 <= w <= 1440 and 512 <= h <= 1440):
        raise invalid("parameters.size: width and height must each be within [512, 1440]")
    return [(w, h)] * n
