"""Pure price arithmetic: `quote` (the worst case a request may cost, reserved before the
upstream call) and `cost` (what the images actually delivered cost).

Every charge is a list of lines `quantity * rate_micros / per` (per = 1 for images, 10^6 for
rates per million tokens or per megapixel), summed exactly as fractions, multiplied by the
key group's multiplier, and rounded up once to a whole micro-unit. A usage-log row keeps the
lines, so anyone can recompute a bill by hand. Both functions share the same rules, so a quote
for an image-priced mode is never below the cost of what the same parameters can produce;
per-token quotes rest on configured upper bounds, and the ledger caps a commit at its
reservation either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pixelgate.billing.prices import (
    TIERS,
    PerImage,
    PerImageSizeQuality,
    PerImageTier,
    PerMegapixel,
    PerToken,
    PriceSpec,
)
from pixelgate.catalog.contract import ModelContract
from pixelgate.core.models import ImageRequest, Size, Usage

__all__ = ["Charge", "Delivery", "Line", "TokenCounts", "cost", "quote", "tier_for"]

PER_MILLION = 1_000_000
_RESOLUTION_TIER = {"0.5K": "1K", "1K": "1K", "2K": "2K", "4K": "4K"}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a bill: `quantity * rate_micros / per` micro-units."""

    item: str
    quantity: int
    rate_micros: int
    per: int = 1

    @property
    def amount(self) -> Fraction:
        return Fraction(self.quantity * self.rate_micros, self.per)

    def as_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "quantity": self.quantity,
            "rate_micros": self.rate_micros,
            "per": self.per,
        }


@dataclass(frozen=True, slots=True)
class TokenCounts:
    text_input: int = 0
    image_input: int = 0
    image_output: int = 0
    text_output: int = 0


@dataclass(frozen=True, slots=True)
class Charge:
    """A priced request: the lines, the group multiplier and the price inputs used."""

    mode: str
    lines: tuple[Line, ...]
    multiplier: Fraction = Fraction(1)
    tier: str | None = None
    quality: str | None = None
    tokens: TokenCounts | None = None
    estimated: bool = False

    @property
    def amount(self) -> int:
        """Micro-units: the exact sum times the multiplier, rounded up once."""
        return math.ceil(sum((line.amount for line in self.lines), Fraction(0)) * self.multiplier)

    def detail(self) -> dict[str, Any]:
        """The explanation stored with the usage row."""
        out: dict[str, Any] = {
            "mode": self.mode,
            "lines": [line.as_json() for line in self.lines],
            "multiplier": str(self.multiplier),
            "amount_micros": self.amount,
        }
        if self.estimated:
            out["estimated"] = True
        return out


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the client actually received: image sizes, the upstream's usage, the quality."""

    sizes: tuple[Size, ...]
    usage: Usage | None = None
    quality: str | None = None


def tier_for(edge: int) -> str:
    """The resolution tier of a longest edge: ≤1536 → 1K, ≤2048 → 2K, above → 4K."""
    if edge <= 1536:
        return "1K"
    if edge <= 2048:
        return "2K"
    return "4K"


def _max_edge(contract: ModelContract) -> int | None:
    edges = [Size.parse(s).longest_edge for s in contract.sizes.fixed]
    if contract.sizes.flexible is not None:
        edges.append(contract.sizes.flexible.max_edge)
    return max(edges) if edges else None


def _max_pixels(contract: ModelContract) -> int:
    pixels = [Size.parse(s).pixels for s in contract.sizes.fixed]
    if contract.sizes.flexible is not None:
        rule = contract.sizes.flexible
        pixels.append(min(rule.max_pixels, rule.max_edge * rule.max_edge))
    return max(pixels) if pixels else 4096 * 4096


def _quality_known(quality: str | None) -> str | None:
    return None if quality in (None, "auto") else quality


# --- per image, per tier -----------------------------------------------------------------


def _tier_quote(spec: PerImageTier, req: ImageRequest, contract: ModelContract) -> str:
    if req.size is not None:
        return tier_for(req.size.longest_edge)
    if req.resolution is not None and req.resolution.upper() in _RESOLUTION_TIER:
        return _RESOLUTION_TIER[req.resolution.upper()]
    edge = _max_edge(contract)
    top = TIERS.index(tier_for(edge)) if edge is not None else len(TIERS) - 1
    return max(TIERS[: top + 1], key=lambda t: spec.tiers[t])  # type: ignore[index]


def _tier_lines(spec: PerImageTier, tiers: Sequence[str]) -> tuple[Line, ...]:
    counts: dict[str, int] = {}
    for t in tiers:
        counts[t] = counts.get(t, 0) + 1
    return tuple(
        Line(f"image {t}", n, spec.tiers[t])  # type: ignore[index]
        for t, n in sorted(counts.items())
    )


# --- per image, size * quality -----------------------------------------------------------


def _size_row(spec: PerImageSizeQuality, size: Size | None) -> list[tuple[str, dict[str, int]]]:
    """The table rows a size may be billed at: its own, else the smallest larger, else all."""
    rows = [(k, v) for k, v in spec.sizes.items()]
    if size is None:
        return rows
    exact = [(k, v) for k, v in rows if Size.parse(k) == size]
    if exact:
        return exact
    larger = sorted(
        ((k, v) for k, v in rows if Size.parse(k).pixels >= size.pixels),
        key=lambda kv: Size.parse(kv[0]).pixels,
    )
    if larger:
        return larger[:1]
    return [max(rows, key=lambda kv: Size.parse(kv[0]).pixels)]


def _size_quality_price(
    spec: PerImageSizeQuality, size: Size | None, quality: str | None
) -> tuple[str, str, int]:
    """(size key, quality, price): an unknown quality or size is billed at its worst case."""
    quality = _quality_known(quality) or spec.default_quality
    best: tuple[str, str, int] | None = None
    for key, row in _size_row(spec, size):
        options = [(quality, row[quality])] if quality in row else list(row.items())
        for q, price in options:
            if best is None or price > best[2]:
                best = (key, q, price)
    assert best is not None
    return best


def _size_quality_lines(
    spec: PerImageSizeQuality, sizes: Sequence[Size | None], quality: str | None
) -> tuple[tuple[Line, ...], str]:
    lines: dict[tuple[str, str, int], int] = {}
    used = ""
    for size in sizes:
        key = _size_quality_price(spec, size, quality)
        used = key[1]
        lines[key] = lines.get(key, 0) + 1
    out = tuple(Line(f"image {s} {q}", n, p) for (s, q, p), n in sorted(lines.items()))
    return out, used


# --- per token ----------------------------------------------------------------------------


def _output_tokens_estimate(spec: PerToken, size: Size | None, quality: str | None) -> int:
    est = spec.estimate
    if est.output_tokens_per_image is not None:
        return est.output_tokens_per_image
    per_mp = est.output_tokens_per_megapixel
    if isinstance(per_mp, dict):
        q = _quality_known(quality)
        rate = per_mp[q] if q in per_mp else max(per_mp.values())
    else:
        rate = per_mp or 0
    pixels = size.pixels if size is not None else 0
    return math.ceil(Fraction(pixels * rate, PER_MILLION))


def _input_estimate(spec: PerToken, req: ImageRequest) -> tuple[int, int]:
    text = len(req.prompt.encode("utf-8")) + spec.estimate.prompt_overhead_tokens
    n_inputs = len(req.images) + (1 if req.mask is not None else 0)
    return text, n_inputs * spec.estimate.input_image_tokens


def _token_lines(spec: PerToken, tokens: TokenCounts) -> tuple[Line, ...]:
    parts = (
        ("text input tokens", tokens.text_input, spec.text_input),
        ("image input tokens", tokens.image_input, spec.image_input),
        ("image output tokens", tokens.image_output, spec.image_output),
        ("text output tokens", tokens.text_output, spec.text_output),
    )
    return tuple(Line(item, q, rate, PER_MILLION) for item, q, rate in parts if q)


def _reported_tokens(usage: Usage) -> TokenCounts:
    """Split the upstream's usage by kind. Output tokens not reported as text are image tokens
    (LiteLLM #31142 billed GPT-image output at the text rate); unsplit input is text."""
    text_in, image_in = usage.input_text_tokens, usage.input_image_tokens
    if text_in + image_in == 0:
        text_in = usage.input_tokens
    image_out = usage.output_image_tokens or max(0, usage.output_tokens - usage.output_text_tokens)
    return TokenCounts(text_in, image_in, image_out, usage.output_text_tokens)


def _token_quote(spec: PerToken, req: ImageRequest, contract: ModelContract) -> TokenCounts:
    size = req.size
    if size is None:
        edge = math.isqrt(_max_pixels(contract))
        size = Size(edge, edge)
    text, image_in = _input_estimate(spec, req)
    out = req.n * _output_tokens_estimate(spec, size, req.quality)
    return TokenCounts(text_input=text, image_input=image_in, image_output=out)


# --- the two entry points -----------------------------------------------------------------


def quote(
    spec: PriceSpec, req: ImageRequest, contract: ModelContract, multiplier: Fraction
) -> Charge:
    """The most `req` can cost: n * the highest price its parameters allow."""
    if isinstance(spec, PerImage):
        return Charge(spec.mode, (Line("image", req.n, spec.price),), multiplier)
    if isinstance(spec, PerImageTier):
        tier = _tier_quote(spec, req, contract)
        return Charge(spec.mode, _tier_lines(spec, [tier] * req.n), multiplier, tier=tier)
    if isinstance(spec, PerImageSizeQuality):
        lines, q = _size_quality_lines(spec, [req.size] * req.n, req.quality)
        return Charge(spec.mode, lines, multiplier, quality=q)
    if isinstance(spec, PerToken):
        tokens = _token_quote(spec, req, contract)
        return Charge(spec.mode, _token_lines(spec, tokens), multiplier, tokens=tokens)
    size = req.size
    pixels = size.pixels if size is not None else _max_pixels(contract)
    line = Line("output pixels", req.n * pixels, spec.rate, PER_MILLION)
    return Charge(spec.mode, (line,), multiplier)


def cost(spec: PriceSpec, req: ImageRequest, got: Delivery, multiplier: Fraction) -> Charge:
    """What the delivered images cost, from their sizes and the upstream's reported usage."""
    n = len(got.sizes)
    if isinstance(spec, PerImage):
        return Charge(spec.mode, (Line("image", n, spec.price),), multiplier)
    if isinstance(spec, PerImageTier):
        tiers = [tier_for(s.longest_edge) for s in got.sizes]
        label = ",".join(sorted(set(tiers))) or None
        return Charge(spec.mode, _tier_lines(spec, tiers), multiplier, tier=label)
    if isinstance(spec, PerImageSizeQuality):
        lines, q = _size_quality_lines(spec, got.sizes, got.quality or req.quality)
        return Charge(spec.mode, lines, multiplier, quality=q or None)
    if isinstance(spec, PerToken):
        if got.usage is not None and got.usage.total_tokens > 0:
            tokens = _reported_tokens(got.usage)
            estimated = False
        else:
            text, image_in = _input_estimate(spec, req)
            out = sum(_output_tokens_estimate(spec, s, got.quality) for s in got.sizes)
            tokens = TokenCounts(text_input=text, image_input=image_in, image_output=out)
            estimated = True
        lines = _token_lines(spec, tokens)
        return Charge(spec.mode, lines, multiplier, tokens=tokens, estimated=estimated)
    assert isinstance(spec, PerMegapixel)
    line = Line("output pixels", sum(s.pixels for s in got.sizes), spec.rate, PER_MILLION)
    return Charge(spec.mode, (line,), multiplier)
