"""Client protocols. Each module parses its request shape into the canonical ImageRequest and
renders results and errors back in that protocol's own shape."""

__all__: list[str] = []
