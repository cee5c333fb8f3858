"""The price book: shipped prices and group multipliers, overridden by the gateway YAML."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from pixelgate.billing.prices import PriceSpec, load_shipped_prices

__all__ = ["DEFAULT_GROUP", "PriceBook", "build_price_book"]

DEFAULT_GROUP = "default"


class PriceBook:
    """Prices by client-facing model name and multipliers by key group."""

    def __init__(
        self, currency: str, prices: Mapping[str, PriceSpec], groups: Mapping[str, Decimal]
    ) -> None:
        self.currency = currency
        self._prices = dict(prices)
        self._groups = {name: Fraction(value) for name, value in groups.items()}
        self._groups.setdefault(DEFAULT_GROUP, Fraction(1))

    def price(self, model: str, upstream_model: str | None = None) -> PriceSpec | None:
        """The model's price, else the price of the upstream model its deployment serves."""
        spec = self._prices.get(model)
        if spec is None and upstream_model is not None:
            spec = self._prices.get(upstream_model)
        return spec

    def multiplier(self, group: str) -> Fraction | None:
        return self._groups.get(group)

    def groups(self) -> dict[str, Fraction]:
        return dict(self._groups)


def build_price_book(prices: Mapping[str, PriceSpec], groups: Mapping[str, Decimal]) -> PriceBook:
    """Shipped defaults, then the config's `prices:` (whole entries) and `groups:` on top."""
    shipped = load_shipped_prices()
    return PriceBook(shipped.currency, {**shipped.prices, **prices}, {**shipped.groups, **groups})
