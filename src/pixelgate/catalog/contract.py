"""Per-model parameter contracts, loaded from `models.yaml` and enforced on ImageRequest."""

from __future__ import annotations

import dataclasses
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from pixelgate.catalog.geometry import check_geometry
from pixelgate.core.models import ImageFormat, ImageRequest, Operation, Size
from pixelgate.errors import InvalidParameter

__all__ = ["GATEWAY_FIELDS", "Catalog", "ModelContract", "SizeRule", "load_catalog"]

# Fields the gateway itself consumes; never forwarded upstream and never reported as dropped.
GATEWAY_FIELDS = frozenset({"async", "callback_url", "operation"})


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
    # Other enumerated fields, validated on the client's value (e.g. style, input_fidelity).
    choices: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    streaming: bool = False
    partial_images_max: int = 3
    # Fields forwarded upstream, per operation; None forwards every field the client sent.
    params: dict[Operation, tuple[str, ...]] | None = None
    # Fields the gateway always sends upstream (e.g. response_format: b64_json for dall-e).
    upstream_overrides: dict[str, Any] = Field(default_factory=dict)
    echo_fields: bool = False
    # Geometry selectors (catalog/geometry.py): the allowed values; empty refuses the field.
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    # Operations that may carry `resolution`; None: every operation.
    resolution_operations: tuple[Operation, ...] | None = None
    # `size` is an alias for the nearest aspect ratio (and resolution), not a pixel size.
    size_alias: bool = False
    max_input_images: int = 16
    masks: bool = True
    # Catalog facts shown by GET /v1/models (not enforced by `check`).
    modes: tuple[Literal["sync", "async"], ...] = ("sync",)
    recommended_for: tuple[str, ...] = ()

    def forward(self, req: ImageRequest) -> tuple[dict[str, Any], list[str]]:
        """Split the client's fields into those forwarded upstream and those dropped. A body
        in another protocol (DashScope, Gemini) is first flattened from the canonical
        fields, so flat-JSON upstreams get what the client asked for."""
        source = req.native if req.protocol is None else flat_fields(req)
        native = {k: v for k, v in source.items() if k not in GATEWAY_FIELDS}
        if self.params is None:
            kept = native
        else:
            allowed = set(self.params.get(req.operation, ()))
            kept = {k: v for k, v in native.items() if k in allowed}
        dropped = sorted(k for k in native if k not in kept)
        if self.params is not None:
            allowed = set(self.params.get(req.operation, ()))
            kept.update({k: v for k, v in self.upstream_overrides.items() if k in allowed})
        return kept, dropped

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
        req = check_geometry(self, req)
        if req.stream and not self.streaming:
            raise InvalidParameter(f"{req.model!r} does not support streaming.", param="stream")
        if (
            req.partial_images is not None
            and not 0 <= req.partial_images <= self.partial_images_max
        ):
            raise InvalidParameter(
                f"partial_images must be between 0 and {self.partial_images_max}.",
                param="partial_images",
            )
        size = self._check_size(req)
        self._check_choice("quality", req.quality, self.qualities, req.model)
        self._check_choice("background", req.background, self.backgrounds, req.model)
        self._check_choice("style", req.style, self.choices.get("style", ()), req.model)
        for name, values in self.choices.items():
            value = req.native.get(name)
            if name != "style" and value is not None:
                self._check_choice(name, str(value), values, req.model)
        fmt = req.output_format or self.output_formats[0]
        if fmt not in self.output_formats:
            supported = ", ".join(f.value for f in self.output_formats)
            raise InvalidParameter(
                f"output_format {fmt.value!r} is not supported by {req.model!r} "
                f"(supported: {supported}).",
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
            sent = req.native.get("size")
            if isinstance(sent, str) and sent.strip().lower() == "auto" and not self.sizes.auto:
                allowed = ", ".join(self.sizes.fixed)
                raise InvalidParameter(
                    f"Invalid size 'auto' for {req.model!r}: supported sizes are {allowed}.",
                    param="size",
                )
            # Edits without a size keep the input image's size ("auto").
            if self.default_size and req.operation is Operation.GENERATE:
                return Size.parse(self.default_size)
            return None
        spec = self.sizes
        if not spec.fixed and spec.flexible is None:
            return None  # the model takes no size; the field is dropped, not refused
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
        """A value outside the model's list is refused; a field the model does not take at
        all (no list) is dropped before forwarding instead."""
        if value is None or not allowed:
            return
        if value not in allowed:
            raise InvalidParameter(
                f"Invalid {param} {value!r} for {model!r}: expected one of {', '.join(allowed)}.",
                param=param,
            )


def flat_fields(req: ImageRequest) -> dict[str, Any]:
    """The canonical request as flat OpenAI-style fields (only those that are set)."""
    fields: dict[str, Any] = {"model": req.model, "prompt": req.prompt, "n": req.n}
    optional: dict[str, Any] = {
        "size": str(req.size) if req.size else None,
        "quality": req.quality,
        "background": req.background,
        "output_format": req.output_format.value if req.output_format else None,
        "output_compression": req.output_compression,
        "style": req.style,
        "user": req.user,
        "seed": req.seed,
        "negative_prompt": req.negative_prompt,
        "aspect_ratio": req.aspect_ratio,
        "resolution": req.resolution,
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    return fields


class Catalog:
    """The model contracts, by client-facing model name, and the shipped aliases."""

    def __init__(
        self, contracts: dict[str, ModelContract], aliases: dict[str, str] | None = None
    ) -> None:
        self._default = contracts.pop("_default", ModelContract())
        self._contracts = contracts
        self.aliases = aliases or {}

    def contract(self, model: str) -> ModelContract:
        return self._contracts.get(model, self._default)

    def known(self, model: str) -> bool:
        return model in self._contracts


def load_catalog() -> Catalog:
    text = resources.files("pixelgate.catalog").joinpath("models.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    contracts = {k: ModelContract.model_validate(v) for k, v in raw["models"].items()}
    aliases = dict(raw.get("aliases") or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise ValueError("models.yaml: aliases must map model names to model names")
    return Catalog(contracts, aliases)
