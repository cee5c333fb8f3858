"""The Keys page's limits and credit forms, read into what the admin API takes.

A limits form becomes the body of `PATCH /admin/keys/{id}` and goes through the same
`auth.limits.parse_limits`, so the console and the API accept and refuse exactly the same
values. Only the form's own shapes are read here: amounts typed in currency units become
micro-units (`money.parse_amount`, as on the CLI), empty fields become null ("no limit"),
and whole numbers become integers — anything else is passed on as text for `parse_limits`
to refuse with its own message.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.datastructures import FormData

from pixelgate.auth.limits import KeyLimits
from pixelgate.console.money import parse_amount, units

__all__ = [
    "Adjustment",
    "form_values",
    "limit_notes",
    "limits_body",
    "model_choices",
    "new_token",
    "read_adjustment",
    "submitted_values",
]

_INTEGER = re.compile(r"[+-]?\d{1,19}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MONEY_FIELDS = {"daily_limit": "Daily spend limit", "monthly_limit": "Monthly spend limit"}
_COUNT_FIELDS = ("rpm_limit", "concurrency_limit")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _checked(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1")


def limits_body(form: FormData) -> dict[str, Any]:
    """The admin-API body of a posted limits form (every field present: a form sends all
    of them, and an unticked box is false). Raises ValueError for an unreadable amount."""
    body: dict[str, Any] = {
        "unlimited": _checked(form, "unlimited"),
        "enabled": _checked(form, "enabled"),
        "expires_at": _text(form, "expires_at") or None,
    }
    for name, label in _MONEY_FIELDS.items():
        text = _text(form, name)
        body[name + "_micros"] = parse_amount(text, label) if text else None
    for name in _COUNT_FIELDS:
        text = _text(form, name)
        body[name] = (int(text) if _INTEGER.fullmatch(text) else text) if text else None
    if form.get("models") == "only":
        chosen = [m for m in form.getlist("allowed_models") if isinstance(m, str) and m]
        body["allowed_models"] = sorted(set(chosen))
    else:
        body["allowed_models"] = None
    ips = [part for part in re.split(r"[\s,]+", _text(form, "allowed_ips")) if part]
    body["allowed_ips"] = ips or None
    group = _text(form, "group")
    if group:
        body["group"] = group
    return body


def form_values(limits: KeyLimits) -> dict[str, Any]:
    """What the limits form shows for a key's stored limits."""
    expires = limits.expires_at
    return {
        "unlimited": limits.unlimited,
        "enabled": limits.enabled,
        "expires_at": expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if expires else "",
        "daily_limit": units(limits.daily_limit) if limits.daily_limit is not None else "",
        "monthly_limit": units(limits.monthly_limit) if limits.monthly_limit is not None else "",
        "rpm_limit": str(limits.rpm_limit or ""),
        "concurrency_limit": str(limits.concurrency_limit or ""),
        "models": "all" if limits.allowed_models is None else "only",
        "allowed_models": list(limits.allowed_models or ()),
        "allowed_ips": ", ".join(limits.allowed_ips or ()),
        "group": limits.group,
    }


def submitted_values(form: FormData) -> dict[str, Any]:
    """What the limits form shows again after it was refused: what was typed."""
    return {
        "unlimited": _checked(form, "unlimited"),
        "enabled": _checked(form, "enabled"),
        **{name: _text(form, name) for name in ("expires_at", *_MONEY_FIELDS, *_COUNT_FIELDS)},
        "models": "only" if form.get("models") == "only" else "all",
        "allowed_models": [m for m in form.getlist("allowed_models") if isinstance(m, str)],
        "allowed_ips": _text(form, "allowed_ips"),
        "group": _text(form, "group"),
    }


def model_choices(served: list[str], limits: KeyLimits) -> list[str]:
    """The models the form offers: those this gateway serves, and any the key already
    allows that it does not (kept, so saving the form never drops them silently)."""
    return sorted({*served, *(limits.allowed_models or ())})


def limit_notes(
    limits: KeyLimits, money: Callable[[int], str], now: datetime
) -> list[tuple[str, str]]:
    """The key's limits as short (text, style) notes for the keys table; [] means none."""
    notes: list[tuple[str, str]] = []
    if not limits.enabled:
        notes.append(("disabled", "bad"))
    if limits.expires_at is not None:
        when = limits.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        past = limits.expires_at <= now
        notes.append((f"expired {when}", "bad") if past else (f"expires {when}", ""))
    if limits.daily_limit is not None:
        notes.append((f"{money(limits.daily_limit)} a day", ""))
    if limits.monthly_limit is not None:
        notes.append((f"{money(limits.monthly_limit)} a month", ""))
    if limits.rpm_limit is not None:
        notes.append((f"{limits.rpm_limit} requests/min", ""))
    if limits.concurrency_limit is not None:
        notes.append((f"{limits.concurrency_limit} at a time", ""))
    if limits.allowed_models is not None:
        listed = ", ".join(limits.allowed_models) or "none"
        notes.append((f"models: {listed}", "warn" if not limits.allowed_models else ""))
    if limits.allowed_ips is not None:
        notes.append((f"IPs: {', '.join(limits.allowed_ips)}", ""))
    if limits.group != "default":
        notes.append((f"group {limits.group}", ""))
    return notes


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A posted credit form: add or subtract `amount` micro-units, once per `token`."""

    direction: Literal["add", "subtract"]
    amount: int
    note: str | None
    token: str


def new_token() -> str:
    """The idempotency token a credit form carries: sending one form twice (a double
    click, a reload that re-posts) changes the balance once."""
    return secrets.token_urlsafe(18)


def read_adjustment(form: FormData) -> Adjustment:
    """The credit form's fields; ValueError with a message for the page."""
    direction = form.get("direction")
    if direction not in ("add", "subtract"):
        raise ValueError("Choose Add credit or Subtract.")
    amount = parse_amount(_text(form, "amount"), "Amount")
    if amount == 0:
        raise ValueError("Amount: must be more than 0.")
    note = _text(form, "note")
    if len(note) > 200:
        raise ValueError("Note: at most 200 characters.")
    token = _text(form, "token")
    if not _TOKEN.fullmatch(token):
        token = new_token()  # a hand-made post: no protection against sending it twice
    return Adjustment("add" if direction == "add" else "subtract", amount, note or None, token)
