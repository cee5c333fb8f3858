"""Aspect ratio, resolution and input-image rules of a model contract (Gemini-style models).

`size` may be an alias (seed 003): it maps to the nearest allowed aspect ratio and, where
the model and operation take one, the nearest resolution tier by pixel count.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from pixelgate.core.models import ImageRequest, Size
from pixelgate.errors import InvalidParameter

if TYPE_CHECKING:
    from pixelgate.catalog.contract import ModelContract

__all__ = ["check_geometry", "nearest_ratio", "nearest_resolution"]

# Nominal long edge of each resolution tier ("1K" ≈ 1 MP, "2K" ≈ 4 MP, "4K" ≈ 16 MP).
_TIER_EDGE = {"512": 512, "0.5k": 512, "1k": 1024, "2k": 2048, "4k": 4096}


def _ratio_value(ratio: str) -> float | None:
    w, sep, h = ratio.partition(":")
    try:
        value = float(w) / float(h) if sep else None
    except (ValueError, ZeroDivisionError):
        return None
    return value if value and value > 0 else None


def nearest_ratio(size: Size, ratios: tuple[str, ...]) -> str | None:
    """The allowed aspect ratio closest to `size`'s shape (first one on a tie)."""
    target = math.log(size.width / size.height)
    best: tuple[float, str] | None = None
    for ratio in ratios:
        value = _ratio_value(ratio)
        if value is None:
            continue
        distance = abs(math.log(value) - target)
        if best is None or distance < best[0]:
            best = (distance, ratio)
    return best[1] if best else None


def nearest_resolution(size: Size, resolutions: tuple[str, ...]) -> str | None:
    """The allowed resolution tier whose nominal pixel count is closest to `size`'s."""
    target = math.log(size.pixels)
    best: tuple[float, str] | None = None
    for tier in resolutions:
        edge = _TIER_EDGE.get(tier.lower())
        if edge is None:
            continue
        distance = abs(math.log(edge * edge) - target)
        if best is None or distance <= best[0]:
            best = (distance, tier)
    return best[1] if best else None


def _allowed(param: str, value: str, allowed: tuple[str, ...], model: str) -> str:
    """`value` in the catalog's spelling (matched case-insensitively), or a 400."""
    if not allowed:
        raise InvalidParameter(f"{model!r} does not take the {param} parameter.", param=param)
    for item in allowed:
        if item.lower() == value.strip().lower():
            return item
    raise InvalidParameter(
        f"Invalid {param} {value!r} for {model!r}: expected one of {', '.join(allowed)}.",
        param=param,
    )


def check_geometry(contract: ModelContract, req: ImageRequest) -> ImageRequest:
    """Input-image limits, aspect ratio and resolution; `size` folded in when it is an alias."""
    model = req.model
    if len(req.images) > contract.max_input_images:
        raise InvalidParameter(
            f"{model!r} takes at most {contract.max_input_images} input image(s), "
            f"got {len(req.images)}.",
            param="image",
        )
    if req.mask is not None and not contract.masks:
        raise InvalidParameter(f"{model!r} does not take a mask.", param="mask")
    ops = contract.resolution_operations
    resolution_ok = ops is None or req.operation in ops
    ratio = req.aspect_ratio
    if ratio is not None:
        ratio = _allowed("aspect_ratio", ratio, contract.aspect_ratios, model)
    resolution = req.resolution
    if resolution is not None:
        resolution = _allowed("resolution", resolution, contract.resolutions, model)
        if not resolution_ok:
            raise InvalidParameter(
                f"{model!r} takes no resolution for the {req.operation.value} operation: omit it.",
                param="resolution",
            )
    size = req.size
    if size is not None and contract.size_alias:
        if ratio is None:
            ratio = nearest_ratio(size, contract.aspect_ratios)
        if resolution is None and resolution_ok:
            resolution = nearest_resolution(size, contract.resolutions)
        size = None
    return dataclasses.replace(req, aspect_ratio=ratio, resolution=resolution, size=size)
