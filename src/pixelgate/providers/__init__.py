"""Upstream providers. Each is a package that registers a `ProviderSpec` through the
`pixelgate.providers` entry-point group, so adding one never edits a central switch."""

from pixelgate.providers.base import (
    HttpAdapter,
    LocalEngine,
    ProviderSpec,
    Route,
    UpstreamRequest,
    UpstreamResponse,
)
from pixelgate.providers.registry import load_providers

__all__ = [
    "HttpAdapter",
    "LocalEngine",
    "ProviderSpec",
    "Route",
    "UpstreamRequest",
    "UpstreamResponse",
    "load_providers",
]
