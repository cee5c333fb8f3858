"""Console pieces on their own: session cookies and CSRF, the playground's fields from model
contracts, the usage chart, money, and the keys page's limits and credit forms."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from starlette.datastructures import FormData

from pixelgate.auth.limits import KeyLimits, parse_limits
from pixelgate.catalog import load_catalog
from pixelgate.console.chart import daily_chart
from pixelgate.console.data import DayUsage
from pixelgate.console.key_forms import (
    Adjustment,
    form_values,
    limit_notes,
    limits_body,
    model_choices,
    read_adjustment,
    submitted_values,
)
from pixelgate.console.money import format_money, parse_amount, units
from pixelgate.console.playground import field_specs, model_specs
from pixelgate.console.session import SESSION_SECONDS, SessionSigner
from pixelgate.core.models import Operation


def test_session_round_trip_tamper_and_expiry() -> None:
    signer = SessionSigner(b"s" * 32)
    cookie = signer.issue("key", "key_1", None, now=1000)
    session = signer.read(cookie, now=1001)
    assert session is not None and session.role == "key" and session.key_id == "key_1"
    assert signer.read(cookie, now=1000 + SESSION_SECONDS + 1) is None
    body, sig = cookie.split(".")
    assert signer.read(body + "." + sig[:-1] + ("A" if sig[-1] != "A" else "B"), 1001) is None
    assert signer.read(cookie, now=1001) == session
    assert SessionSigner(b"other").read(cookie, now=1001) is None
    assert signer.read("garbage", 1001) is None and signer.read(None, 1001) is None


def test_csrf_tokens_bind_to_the_session_nonce() -> None:
    signer = SessionSigner(b"s" * 32)
    a = signer.read(signer.issue("admin", None, "fp", 0), 1)
    b = signer.read(signer.issue("admin", None, "fp", 0), 1)
    assert a is not None and b is not None and a.nonce != b.nonce
    assert signer.check_csrf(a.nonce, signer.csrf_token(a.nonce))
    assert not signer.check_csrf(a.nonce, signer.csrf_token(b.nonce))
    assert not signer.check_csrf(a.nonce, None) and not signer.check_csrf(None, "x")


def test_admin_fingerprint_changes_with_the_admin_key() -> None:
    signer = SessionSigner(b"s" * 32)
    assert signer.admin_fingerprint("one") != signer.admin_fingerprint("two")
    assert "one" not in signer.admin_fingerprint("one")


def _names(model: str, op: Operation) -> list[str]:
    return [f["name"] for f in field_specs(load_catalog().contract(model), op)]


def test_playground_fields_follow_each_contract() -> None:
    assert _names("dall-e-3", Operation.GENERATE) == ["n", "size", "quality", "style"]
    assert "background" in _names("gpt-image-1", Operation.GENERATE)
    assert "input_fidelity" in _names("gpt-image-1", Operation.EDIT)
    assert "input_fidelity" not in _names("gpt-image-2", Operation.EDIT)
    assert "moderation" not in _names("gpt-image-1", Operation.EDIT)
    grok = _names("grok-imagine-image", Operation.GENERATE)
    assert "aspect_ratio" in grok and "resolution" in grok and "size" not in grok
    sandbox = _names("sandbox-image", Operation.GENERATE)
    assert {"size", "quality", "output_format", "output_compression"} <= set(sandbox)
    assert "aspect_ratio" in sandbox  # the sandbox takes Gemini-style geometry too
    size = next(
        f
        for f in field_specs(load_catalog().contract("gpt-image-2"), Operation.GENERATE)
        if f["name"] == "size"
    )
    assert size["custom"] and "3840x2160" in size["options"] and "auto" in size["options"]


def test_model_specs_list_generate_and_edit_only() -> None:
    specs = model_specs(["dall-e-2", "dall-e-3", "sandbox-image"], load_catalog())
    by_model = {s["model"]: s for s in specs}
    assert by_model["dall-e-2"]["operations"] == ["generate", "edit"]
    assert by_model["dall-e-3"]["operations"] == ["generate"]
    assert set(by_model["sandbox-image"]["fields"]) == {"generate", "edit"}


def test_chart_draws_a_bar_and_a_point_per_day_with_escaped_titles() -> None:
    days = [DayUsage(date(2025, 1, d), requests=d, images=2 * d, errors=0) for d in (1, 2, 3)]
    svg = str(daily_chart(days))
    assert svg.startswith("<svg") and svg.count('<rect class="bar"') == 3
    assert svg.count('<circle class="dot"') == 3
    assert "2025-01-03: 6 images, 3 requests" in svg
    assert str(daily_chart([])) == ""
    flat = str(daily_chart([DayUsage(date(2025, 1, 1), 0, 0, 0)]))
    assert 'height="0.0"' in flat  # an empty day draws no bar, and nothing divides by zero


def test_money_in_the_account_currency() -> None:
    assert format_money(6000, "USD") == "$0.0060"
    assert format_money(1250, "USD") == "$0.00125"  # more decimals only when it has them
    assert format_money(12_000_000, "EUR") == "€12.0000"
    assert format_money(-500, "USD") == "-$0.0005"
    assert format_money(7, "CHF") == "0.000007 CHF"
    assert units(10_000_000) == "10" and units(1250) == "0.00125" and units(0) == "0"
    assert parse_amount(" 0.5 ", "Amount") == 500_000
    for bad in ("x", "-1", "0.0000001", "1e30"):
        with pytest.raises(ValueError, match=r"^Amount: "):
            parse_amount(bad, "Amount")


def _form(**fields: str | list[str]) -> FormData:
    items: list[tuple[str, str]] = []
    for name, value in fields.items():
        items += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    return FormData(items)


def test_limits_form_reads_into_the_admin_api_body() -> None:
    body = limits_body(
        _form(
            enabled="on",
            daily_limit="1.5",
            monthly_limit="",
            rpm_limit="60",
            concurrency_limit="two",
            models="only",
            allowed_models=["b", "a", "a"],
            allowed_ips="10.0.0.0/8,  192.0.2.7\n",
            expires_at="2031-01-31T00:00",
            group="partners",
        )
    )
    assert body == {
        "unlimited": False,  # an unticked box is not sent
        "enabled": True,
        "expires_at": "2031-01-31T00:00",
        "daily_limit_micros": 1_500_000,
        "monthly_limit_micros": None,
        "rpm_limit": 60,
        "concurrency_limit": "two",  # left for parse_limits to refuse with its message
        "allowed_models": ["a", "b"],
        "allowed_ips": ["10.0.0.0/8", "192.0.2.7"],
        "group": "partners",
    }
    everything = limits_body(_form(models="all", allowed_models=["a"]))
    assert everything["allowed_models"] is None and everything["allowed_ips"] is None
    assert limits_body(_form(models="only"))["allowed_models"] == []  # no model at all


def _as_sent(values: dict[str, object]) -> FormData:
    """The form a browser sends for these field values (ticked boxes only)."""
    fields: dict[str, str | list[str]] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            if value:
                fields[name] = "on"
        elif isinstance(value, list):
            fields[name] = [str(v) for v in value]
        else:
            fields[name] = str(value)
    return _form(**fields)


def test_saving_the_form_unchanged_keeps_the_limits() -> None:
    stored = [
        KeyLimits(),
        KeyLimits(
            unlimited=False,
            enabled=False,
            expires_at=datetime(2031, 1, 31, 12, 30, tzinfo=UTC),
            daily_limit=1250,
            monthly_limit=30_000_000,
            allowed_models=("a", "b"),
            allowed_ips=("10.0.0.0/8",),
            rpm_limit=60,
            concurrency_limit=2,
            group="partners",
        ),
        KeyLimits(allowed_models=()),
    ]
    for limits in stored:
        sent = _as_sent(form_values(limits))
        assert parse_limits(limits_body(sent), KeyLimits()) == limits
        assert submitted_values(sent) == form_values(limits)  # shown again as typed


def test_limit_notes_and_model_choices() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    limits = KeyLimits(
        unlimited=False,
        enabled=False,
        expires_at=datetime(2029, 1, 1, tzinfo=UTC),
        daily_limit=2_000_000,
        rpm_limit=5,
        allowed_models=(),
        group="partners",
    )
    notes = limit_notes(limits, lambda m: format_money(m, "USD"), now)
    assert notes == [
        ("disabled", "bad"),
        ("expired 2029-01-01 00:00", "bad"),
        ("$2.0000 a day", ""),
        ("5 requests/min", ""),
        ("models: none", "warn"),
        ("group partners", ""),
    ]
    assert limit_notes(KeyLimits(), str, now) == []
    kept = KeyLimits(allowed_models=("retired-model",))
    assert model_choices(["b", "a"], kept) == ["a", "b", "retired-model"]


def test_credit_form_reading() -> None:
    change = read_adjustment(
        _form(direction="subtract", amount="2", note=" refund ", token="t" * 20)
    )
    assert change == Adjustment("subtract", 2_000_000, "refund", "t" * 20)
    fresh = read_adjustment(_form(direction="add", amount="1", token="short"))
    assert fresh.token != "short" and len(fresh.token) >= 16 and fresh.note is None
    for fields, message in (
        ({"direction": "steal", "amount": "1"}, "Choose"),
        ({"direction": "add", "amount": "0"}, "more than 0"),
        ({"direction": "add", "amount": "1", "note": "n" * 201}, "200 characters"),
    ):
        with pytest.raises(ValueError, match=message):
            read_adjustment(_form(**fields))
