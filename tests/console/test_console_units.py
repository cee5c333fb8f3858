"""Console pieces on their own: session cookies and CSRF, the playground's fields from model
contracts, and the usage chart."""

from __future__ import annotations

from datetime import date

from pixelgate.catalog import load_catalog
from pixelgate.console.chart import daily_chart
from pixelgate.console.data import DayUsage
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
