"""Per-model parameter contracts, loaded from `models.yaml` and enforced on ImageRequest."""

from __future__ import annotations

import dataclasses
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from pixelgate.core.models import ImageFormat, ImageRequest, Operation, Size
from pixelgate.errors import InvalidParameter

__all__ = ["Catalog", "ModelContract", "SizeRule", "load_catalog"]


class SizeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    multiple_of: int = 1
    min_edge: int = 1
    max_edge: int = 8192
    max_ratio: float = 16.0
    min_pixels: int = 1
    max_pixels: int = 67_108_864

    def violation(self, size: Size) -> str | None:
        w, h = size.width, size.height
        if w % self.multiple_of or h % self.multiple_of:
            return f"width and height must be multiples of {self.multiple_of}"
        if min(w, h) < self.min_edge:
            return f"the shortest edge must be at least {self.min_edge}px"
        if max(w, h) > self.max_edge:
            return f"the longest edge must be at most {self.max_edge}px"
        if max(w, h) / min(w, h) > self.max_ratio:
            return f"the long/short edge ratio must be at most {self.max_ratio:g}:1"
        if not self.min_pixels <= w * h <= self.max_pixels:
            return f"the pixel count must be between {self.min_pixels:,} and {self.max_pixels:,}"
        return None


class SizeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fixed: tuple[str, ...] = ()
    flexible: SizeRule | None = None
    auto: bool = True


class ModelContract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    operations: tuple[Operation, ...] = (Operation.GENERATE,)
    n_max: int = 10
    prompt_max: int = 32000
    default_size: str | None = None
    sizes: SizeSpec = Field(default_factory=SizeSpec)
    qualities: tuple[str, ...] = ()
    output_formats: tuple[ImageFormat, ...] = (ImageFormat.PNG,)
    backgrounds: tuple[str, ...] = ()
    transparent_formats: tuple[ImageFormat, ...] = (ImageFormat.PNG, ImageFormat.WEBP)
    compression_formats: tuple[ImageFormat, ...] = (ImageFormat.JPEG, ImageFormat.WEBP)
    echo_fields: bool = False
    # Catalog facts shown by GET /v1/models (not enforced by `check`).
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    modes: tuple[Literal["sync", "async"], ...] = ("sync",)
    streaming: bool = False
    recommended_for: tuple[str, ...] = ()

    def check(self, req: ImageRequest) -> ImageRequest:
        """Return `req` with defaults filled in, or raise InvalidParameter naming the rule."""
        if req.operation not in self.operations:
            raise InvalidParameter(
                f"Model {req.model!r} does not support the {req.operation.value} operation.",
                param="model",
            )
        if len(req.prompt) > self.prompt_max:
            raise InvalidParameter(
                f"prompt is too long: {len(req.prompt)} characters, the maximum for "
                f"{req.model!r} is {self.prompt_max}.",
                param="prompt",
            )
        if not 1 <= req.n <= self.n_max:
            raise InvalidParameter(
                f"n must be between 1 and {self.n_max} for {req.model!r}.", param="n"
            )
        size = self._check_size(req)
        self._check_choice("quality", req.quality, self.qualities, req.model)
        self._check_choice("background", req.background, self.backgrounds, req.model)
        fmt = req.output_format or self.output_formats[0]
        if fmt not in self.output_formats:
            allowed = ", ".join(f.value for f in self.output_formats)
            raise InvalidParameter(
                f"output_format {fmt.value!r} is not supported by {req.model!r} "
                f"(supported: {allowed}).",
                param="output_format",
            )
        if req.background == "transparent" and fmt not in self.transparent_formats:
            raise InvalidParameter(
                "background 'transparent' requires output_format png or webp.",
                param="background",
            )
        if req.output_compression is not None:
            if not 0 <= req.output_compression <= 100:
                raise InvalidParameter(
                    "output_compression must be between 0 and 100.", param="output_compression"
                )
            if fmt not in self.compression_formats:
                raise InvalidParameter(
                    "output_compression applies only to output_format jpeg or webp.",
                    param="output_compression",
                )
        return dataclasses.replace(req, size=size, output_format=fmt)

    def _check_size(self, req: ImageRequest) -> Size | None:
        if req.size is None:
            # Edits without a size keep the input image's size ("auto").
            if self.default_size and req.operation is Operation.GENERATE:
                return Size.parse(self.default_size)
            return None
        spec = self.sizes
        if str(req.size) in spec.fixed:
            return req.size
        if spec.flexible is not None:
            problem = spec.flexible.violation(req.size)
            if problem is None:
                return req.size
            raise InvalidParameter(
                f"Invalid size {req.size} for {req.model!r}: {problem}.", param="size"
            )
        allowed = ", ".join(spec.fixed + (("auto",) if spec.auto else ()))
        raise InvalidParameter(
            f"Invalid size {req.size} for {req.model!r}: supported sizes are {allowed}.",
            param="size",
        )

    @staticmethod
    def _check_choice(param: str, value: str | None, allowed: tuple[str, ...], model: str) -> None:
        if value is None:
            return
        if not allowed:
            raise InvalidParameter(f"{model!r} does not take the {param} parameter.", param=param)
        if value not in allowed:
            raise InvalidParameter(
                f"Invalid {param} {value!r} for {model!r}: expected one of {', '.join(allowed)}.",
                param=param,
            )


class Catalog:
    """The model contracts, by client-facing model name."""

    def __init__(self, contracts: dict[str, ModelContract]) -> None:
        self._default = contracts.pop("_default", ModelContract())
        self._contracts = contracts

    def contract(self, model: str) -> ModelContract:
        return self._contracts.get(model, self._default)

    def known(self, model: str) -> bool:
        return model in self._contracts


def load_catalog() -> Catalog:
    text = resources.files("pixelgate.catalog").joinpath("models.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return Catalog({k: ModelContract.model_validate(v) for k, v in raw["models"].items()})
