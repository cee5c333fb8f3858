"""Worked price examples for every pricing mode (pure arithmetic, no I/O)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from pixelgate.billing.book import build_price_book
from pixelgate.billing.prices import PriceSpec, to_micros
from pixelgate.billing.pricing import Delivery, cost, quote, tier_for
from pixelgate.catalog import ModelContract, load_catalog
from pixelgate.core.models import ImageInput, ImageRequest, Operation, Size, Usage
from pixelgate.settings import ConfigError, load_config

SPEC = TypeAdapter(PriceSpec)
ONE = Fraction(1)
SEED_002 = SPEC.validate_python(
    {"mode": "per_image_tier", "tiers": {"1K": 0.125, "2K": 0.25, "4K": 0.5}}
)
DALLE3 = SPEC.validate_python(
    {
        "mode": "per_image_size_quality",
        "default_quality": "standard",
        "sizes": {
            "1024x1024": {"standard": 0.04, "hd": 0.08},
            "1024x1792": {"standard": 0.08, "hd": 0.12},
            "1792x1024": {"standard": 0.08, "hd": 0.12},
        },
    }
)
GPT_IMAGE = SPEC.validate_python(
    {
        "mode": "per_token",
        "text_input": 5,
        "image_input": 10,
        "image_output": 40,
        "estimate": {
            "output_tokens_per_megapixel": {"low": 300, "medium": 1100, "high": 4200},
            "input_image_tokens": 6000,
        },
    }
)
GEMINI = SPEC.validate_python(
    {
        "mode": "per_token",
        "text_input": 0.30,
        "image_input": 0.30,
        "image_output": 30,
        "text_output": 2.5,
        "estimate": {"output_tokens_per_image": 1290},
    }
)
FLUX = SPEC.validate_python({"mode": "per_megapixel", "rate": 0.03})
FLAT = SPEC.validate_python({"mode": "per_image", "price": "0.04"})
OPEN = ModelContract()  # sizes unconstrained: the worst case is the 4K tier
SANDBOX = load_catalog().contract("sandbox-image")


def req(size: str | None = None, n: int = 1, **kw: Any) -> ImageRequest:
    return ImageRequest(
        model="m",
        prompt=kw.pop("prompt", "a cat"),
        n=n,
        size=Size.parse(size) if size else None,
        **kw,
    )


def got(*sizes: str, **kw: Any) -> Delivery:
    return Delivery(sizes=tuple(Size.parse(s) for s in sizes), **kw)


@pytest.mark.parametrize(
    ("edge", "tier"),
    [
        (512, "1K"),
        (1024, "1K"),
        (1536, "1K"),
        (1537, "2K"),
        (2048, "2K"),
        (2049, "4K"),
        (3840, "4K"),
    ],
)
def test_tier_boundaries(edge: int, tier: str) -> None:
    assert tier_for(edge) == tier


@pytest.mark.parametrize(
    ("size", "micros", "tier"),
    [
        ("1024x1024", 125_000, "1K"),
        ("1024x1536", 125_000, "1K"),
        ("2048x2048", 250_000, "2K"),
        ("2048x1152", 250_000, "2K"),
        ("3840x2160", 500_000, "4K"),
        ("2160x3840", 500_000, "4K"),
    ],
)
def test_seed_002_tiers(size: str, micros: int, tier: str) -> None:
    q = quote(SEED_002, req(size), OPEN, ONE)
    assert (q.amount, q.tier) == (micros, tier)
    c = cost(SEED_002, req(size), got(size), ONE)
    assert (c.amount, c.tier) == (micros, tier)


def test_tier_quote_is_n_times_worst_case() -> None:
    assert quote(SEED_002, req("2048x1152", n=3), OPEN, ONE).amount == 750_000
    # No size (an edit keeping its input's size): the highest tier the contract allows.
    edit = req(None, n=2, operation=Operation.EDIT)
    assert quote(SEED_002, edit, OPEN, ONE).amount == 1_000_000
    small = ModelContract.model_validate({"sizes": {"fixed": ["1024x1024", "1536x1024"]}})
    assert quote(SEED_002, edit, small, ONE).amount == 250_000
    assert quote(SEED_002, req(None, resolution="2k"), OPEN, ONE).tier == "2K"


def test_tier_cost_counts_each_delivered_image() -> None:
    c = cost(SEED_002, req("2048x2048", n=3), got("1024x1024", "2048x2048"), ONE)
    assert c.amount == 375_000 and c.tier == "1K,2K"
    assert [(line.item, line.quantity, line.rate_micros) for line in c.lines] == [
        ("image 1K", 1, 125_000),
        ("image 2K", 1, 250_000),
    ]


def test_group_multiplier_rounds_up_once() -> None:
    assert cost(SEED_002, req(), got("1024x1024"), Fraction("0.8")).amount == 100_000
    assert cost(SEED_002, req(), got("1024x1024"), Fraction("1.5")).amount == 187_500
    # 3 * 125000 * 1/3 = 125000 exactly; 1 * 125000 * 1/3 = 41666.67 → 41667.
    assert cost(SEED_002, req(), got("1024x1024"), Fraction(1, 3)).amount == 41_667
    detail = cost(SEED_002, req(), got("1024x1024"), Fraction("0.8")).detail()
    assert detail["multiplier"] == "4/5" and detail["amount_micros"] == 100_000


def test_size_quality_dalle() -> None:
    assert cost(DALLE3, req(), got("1024x1024", quality="standard"), ONE).amount == 40_000
    assert cost(DALLE3, req(), got("1792x1024", quality="hd"), ONE).amount == 120_000
    c = cost(DALLE3, req(quality="hd"), got("1024x1792", "1024x1792"), ONE)
    assert (c.amount, c.quality) == (240_000, "hd")
    # No quality given: the model's default (standard), as DALL·E 3 bills it.
    assert quote(DALLE3, req("1024x1024"), OPEN, ONE).amount == 40_000
    # No size: the dearest entry of the table.
    assert quote(DALLE3, req(None, quality="hd"), OPEN, ONE).amount == 120_000
    # A size missing from the table is billed as the smallest larger one.
    assert cost(DALLE3, req(), got("512x512"), ONE).amount == 40_000


def test_size_quality_without_default_bills_unknown_quality_at_worst() -> None:
    spec = SPEC.validate_python(
        {"mode": "per_image_size_quality", "sizes": {"1024x1024": {"low": 0.01, "high": 0.17}}}
    )
    assert quote(spec, req("1024x1024", quality="auto"), OPEN, ONE).amount == 170_000
    assert cost(spec, req(), got("1024x1024", quality="low"), ONE).amount == 10_000


def test_per_token_gpt_image_reported_usage() -> None:
    # 1024x1024 high: 50 text tokens in, 4160 image tokens out.
    usage = Usage(
        input_tokens=50, input_text_tokens=50, output_tokens=4160, output_image_tokens=4160
    )
    c = cost(GPT_IMAGE, req(), got("1024x1024", usage=usage), ONE)
    assert c.amount == 250 + 166_400  # 50 * $5/M + 4160 * $40/M = $0.16665
    assert c.tokens is not None and (c.tokens.text_input, c.tokens.image_output) == (50, 4160)
    assert not c.estimated


def test_per_token_unsplit_output_is_billed_as_image_tokens() -> None:
    # An upstream that reports only totals: output is image output, not text (LiteLLM #31142).
    usage = Usage(input_tokens=20, output_tokens=1056)
    c = cost(GPT_IMAGE, req(), got("1024x1024", usage=usage), ONE)
    assert c.amount == 100 + 42_240
    # Image input tokens at their own rate.
    edit = Usage(
        input_tokens=343,
        input_text_tokens=20,
        input_image_tokens=323,
        output_tokens=272,
        output_image_tokens=272,
    )
    assert cost(GPT_IMAGE, req(), got("1024x1024", usage=edit), ONE).amount == 100 + 3230 + 10_880


def test_per_token_quote_bounds_the_reported_cost() -> None:
    # "a cat" is 5 bytes (+32 overhead) = 37 tokens * $5/M = 185; 1024² high: ceil(1.048576 *
    # 4200) = 4405 tokens * $40/M = 176,200 per image.
    q = quote(GPT_IMAGE, req("1024x1024", n=2, quality="high"), OPEN, ONE)
    assert q.amount == 185 + 2 * 176_200
    usage = Usage(input_tokens=9, input_text_tokens=9, output_tokens=8320, output_image_tokens=8320)
    assert cost(GPT_IMAGE, req(), got("1024x1024", "1024x1024", usage=usage), ONE).amount < q.amount
    # Quality unknown ("auto"): the dearest quality; input images at the configured bound.
    edit = req("1024x1024", quality="auto", images=(ImageInput(data=b"x"),))
    assert quote(GPT_IMAGE, edit, OPEN, ONE).amount == 185 + 60_000 + 176_200


def test_per_token_gemini_and_rounding() -> None:
    # 7 text tokens * $0.30/M = 2.1 micro-units; 1290 image tokens * $30/M = 38,700.
    usage = Usage(input_tokens=7, input_text_tokens=7, output_tokens=1290, output_image_tokens=1290)
    assert cost(GEMINI, req(), got("1024x1024", usage=usage), ONE).amount == 38_703
    text = Usage(
        input_tokens=7,
        input_text_tokens=7,
        output_tokens=1300,
        output_image_tokens=1290,
        output_text_tokens=10,
    )
    assert cost(GEMINI, req(), got("1024x1024", usage=text), ONE).amount == 38_703 + 25
    # No usage reported: the estimate, flagged as such.
    est = cost(GEMINI, req(), got("1024x1024"), ONE)
    assert est.estimated and est.amount == math_ceil_micro(37 * 300_000, 1_000_000) + 38_700


def math_ceil_micro(numer: int, denom: int) -> int:
    return -(-numer // denom)


def test_per_megapixel_flux() -> None:
    # 1024x1024 = 1,048,576 px * $0.03/MP = 31,457.28 → 31,458 micro-units.
    assert cost(FLUX, req(), got("1024x1024"), ONE).amount == 31_458
    # Two 1920x1080 images: 4,147,200 px * 0.03 = 124,416 exactly.
    assert cost(FLUX, req(), got("1920x1080", "1920x1080"), ONE).amount == 124_416
    assert quote(FLUX, req("1920x1080", n=2), OPEN, ONE).amount == 124_416
    # No size: the contract's largest image (sandbox: 16,777,216 px) * n.
    assert quote(FLUX, req(None), SANDBOX, ONE).amount == 503_317


def test_flat_per_image() -> None:
    assert quote(FLAT, req(n=4), OPEN, ONE).amount == 160_000
    assert cost(FLAT, req(n=4), got("64x64", "64x64"), ONE).amount == 80_000


@pytest.mark.parametrize(
    ("value", "micros"), [(0.125, 125_000), ("0.000001", 1), (3, 3_000_000), ("1e-3", 1000)]
)
def test_money_is_exact(value: Any, micros: int) -> None:
    assert to_micros(value) == micros


@pytest.mark.parametrize("value", [0.0000001, -1, True, "abc", None, float("inf")])
def test_money_refuses_what_it_cannot_represent(value: Any) -> None:
    with pytest.raises(ValueError):
        to_micros(value)


def test_shipped_prices_cover_the_sandbox() -> None:
    book = build_price_book({}, {})
    assert book.price("sandbox-image") is not None
    assert book.price("house-style", "sandbox-image") is book.price("sandbox-image")
    assert book.price("nobody-priced-this") is None
    assert book.multiplier("default") == 1


def test_config_overrides_prices_and_groups(tmp_path: Path) -> None:
    path = tmp_path / "pixelgate.yaml"
    path.write_text(
        "prices:\n"
        "  sandbox-image: {mode: per_image, price: 0.5}\n"
        "  gpt-image-2:\n"
        "    mode: per_image_tier\n"
        "    tiers: {1K: 0.125, 2K: 0.25, 4K: 0.5}\n"
        "groups: {partners: 0.8}\n"
    )
    cfg = load_config(path, frozenset({"sandbox"}))
    book = build_price_book(cfg.prices, cfg.groups)
    assert quote(book.price("sandbox-image"), req(), OPEN, ONE).amount == 500_000  # type: ignore[arg-type]
    assert book.multiplier("partners") == Fraction(4, 5)
    assert book.multiplier("default") == 1


@pytest.mark.parametrize(
    ("yaml_text", "key", "problem"),
    [
        (
            "prices:\n  m: {mode: per_image_tier, tiers: {1K: 1, 2K: 2}}\n",
            "prices.m.per_image_tier.tiers",
            "missing 4K",
        ),
        ("prices:\n  m: {mode: per_image, price: -1}\n", "prices.m.per_image.price", "negative"),
        (
            "prices:\n  m: {mode: per_image, price: 0.0000001}\n",
            "prices.m.per_image.price",
            "6 decimals",
        ),
        ("prices:\n  m: {mode: free}\n", "prices.m", "mode"),
        ("groups:\n  vip: -0.5\n", "groups.vip", "≥ 0"),
    ],
)
def test_bad_prices_name_the_key(tmp_path: Path, yaml_text: str, key: str, problem: str) -> None:
    path = tmp_path / "pixelgate.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path, frozenset({"sandbox"}))
    message = str(info.value)
    assert str(path) in message and key in message and problem in message, message


def test_spec_validation_rules() -> None:
    with pytest.raises(ValidationError):
        SPEC.validate_python(
            {
                "mode": "per_token",
                "text_input": 1,
                "image_input": 1,
                "image_output": 1,
                "estimate": {},
            }
        )
    with pytest.raises(ValidationError):
        SPEC.validate_python({"mode": "per_image_size_quality", "sizes": {"big": {"hd": 1}}})
