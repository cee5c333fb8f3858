"""Discovery of installed providers through the `pixelgate.providers` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from pixelgate.providers.base import ProviderSpec

__all__ = ["load_providers"]


def load_providers() -> dict[str, ProviderSpec]:
    specs: dict[str, ProviderSpec] = {}
    for ep in entry_points(group="pixelgate.providers"):
        spec = ep.load()
        if not isinstance(spec, ProviderSpec):
            raise TypeError(f"entry point {ep.name} does not name a ProviderSpec")
        specs[spec.type] = spec
    return specs
