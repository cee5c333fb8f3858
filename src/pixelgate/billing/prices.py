"""Price specifications as data: the schema of `catalog/prices.yaml` and of the `prices:` and
`groups:` sections of the gateway YAML.

Amounts are written in currency units (USD by default) as YAML numbers or strings and held as
integer micro-units (1 USD = 1_000_000), so no float ever reaches a bill. A value that is not
a whole number of micro-units is refused rather than rounded: a price must mean exactly what
it says.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from pixelgate.core.models import Size
from pixelgate.errors import InvalidParameter

__all__ = [
    "TIERS",
    "Money",
    "Multiplier",
    "PerImage",
    "PerImageSizeQuality",
    "PerImageTier",
    "PerMegapixel",
    "PerToken",
    "PriceFile",
    "PriceSpec",
    "TokenEstimate",
    "load_shipped_prices",
    "to_micros",
]

MICROS = 1_000_000
TIERS = ("1K", "2K", "4K")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a number")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def to_micros(value: Any) -> int:
    """Currency units (number or decimal string) → integer micro-units, exactly."""
    micros = _decimal(value) * MICROS
    if not micros.is_finite() or micros != micros.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of micro-units (6 decimals at most)")
    if micros < 0:
        raise ValueError("must not be negative")
    return int(micros)


def _multiplier(value: Any) -> Decimal:
    d = _decimal(value)
    if not d.is_finite() or d < 0:
        raise ValueError("must be a number ≥ 0")
    return d


Money = Annotated[int, BeforeValidator(to_micros)]
"""A price in currency units in YAML, an int of micro-units in Python."""

Multiplier = Annotated[Decimal, BeforeValidator(_multiplier)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PerImage(_Strict):
    """One flat price per image returned."""

    mode: Literal["per_image"]
    price: Money


class PerImageTier(_Strict):
    """Per image by resolution tier of its longest edge: ≤1536 → 1K, ≤2048 → 2K, above → 4K."""

    mode: Literal["per_image_tier"]
    tiers: dict[Literal["1K", "2K", "4K"], Money]

    @field_validator("tiers")
    @classmethod
    def _all_tiers(cls, value: dict[str, int]) -> dict[str, int]:
        missing = [t for t in TIERS if t not in value]
        if missing:
            raise ValueError(f"must price every tier (1K, 2K, 4K); missing {', '.join(missing)}")
        return value


class PerImageSizeQuality(_Strict):
    """Per image by size * quality, as DALL·E is priced."""

    mode: Literal["per_image_size_quality"]
    sizes: dict[str, dict[str, Money]]
    default_quality: str | None = None

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        if not value:
            raise ValueError("must list at least one size")
        for key, row in value.items():
            try:
                Size.parse(key)
            except InvalidParameter:
                raise ValueError(f"size {key!r} is not WIDTHxHEIGHT") from None
            if not row:
                raise ValueError(f"size {key} must price at least one quality")
        return value


class TokenEstimate(_Strict):
    """Upper bounds used for the reservation before the upstream reports its usage."""

    output_tokens_per_image: int | None = Field(default=None, ge=0)
    output_tokens_per_megapixel: int | dict[str, int] | None = None
    input_image_tokens: int = Field(default=0, ge=0)
    prompt_overhead_tokens: int = Field(default=32, ge=0)

    @model_validator(mode="after")
    def _one_output_rule(self) -> TokenEstimate:
        if (self.output_tokens_per_image is None) == (self.output_tokens_per_megapixel is None):
            raise ValueError(
                "give exactly one of output_tokens_per_image or output_tokens_per_megapixel"
            )
        return self


class PerToken(_Strict):
    """Per token, each kind at its own rate per million tokens (GPT-image, Gemini image)."""

    mode: Literal["per_token"]
    text_input: Money
    image_input: Money
    image_output: Money
    text_output: Money = 0
    estimate: TokenEstimate


class PerMegapixel(_Strict):
    """Per megapixel (10^6 pixels) of each returned image, as FLUX is priced."""

    mode: Literal["per_megapixel"]
    rate: Money


PriceSpec = Annotated[
    PerImage | PerImageTier | PerImageSizeQuality | PerToken | PerMegapixel,
    Field(discriminator="mode"),
]


class PriceFile(_Strict):
    currency: str = "USD"
    groups: dict[str, Multiplier] = Field(default_factory=dict)
    prices: dict[str, PriceSpec] = Field(default_factory=dict)


def load_shipped_prices() -> PriceFile:
    """The defaults shipped in `catalog/prices.yaml` (validated; a bad file is a bug)."""
    text = resources.files("pixelgate.catalog").joinpath("prices.yaml").read_text("utf-8")
    return PriceFile.model_validate(yaml.safe_load(text))
