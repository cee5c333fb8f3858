"""Money in the console: integer micro-units of the account currency (the price book's
`currency`) shown as amounts, and amounts typed into a form read back as micro-units with
`billing.prices.to_micros` — the same reading the CLI gives `--balance 10`."""

from __future__ import annotations

from pixelgate.auth.limits import INT64_MAX
from pixelgate.billing.prices import MICROS, to_micros

__all__ = ["SYMBOLS", "format_money", "parse_amount", "units"]

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
SHOWN_DECIMALS = 4  # as the usage pages always showed; more only when the amount has them


def _decimals(micros: int, at_least: int) -> str:
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    digits = f"{frac:06d}".rstrip("0")
    digits = digits.ljust(at_least, "0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def format_money(micros: int, currency: str) -> str:
    """1250 micro-units of USD → "$0.00125"; 6000 → "$0.0060"; other codes follow the
    amount ("0.0060 CHF")."""
    text = _decimals(micros, SHOWN_DECIMALS)
    symbol = SYMBOLS.get(currency)
    if symbol is None:
        return f"{text} {currency}"
    return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"


def units(micros: int) -> str:
    """Micro-units as the plain amount a form field shows: 10_000_000 → "10", 1250 →
    "0.00125"."""
    return _decimals(micros, 0)


def parse_amount(text: str, label: str) -> int:
    """An amount typed in currency units → micro-units; ValueError names the field."""
    try:
        micros = to_micros(text.strip())
    except ValueError as exc:
        raise ValueError(f"{label}: {exc}.") from None
    if micros > INT64_MAX:
        raise ValueError(f"{label}: {text.strip()!r} is too large.")
    return micros
