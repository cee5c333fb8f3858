"""Where and how an OpenAI-Images-speaking upstream is called: URL per operation and auth.

OpenAI itself, Azure OpenAI and any OpenAI-compatible server share one adapter and differ
only here.
"""

from __future__ import annotations

from typing import Protocol

from pixelgate.providers.base import Route

__all__ = ["Endpoint", "OpenAIEndpoint", "extra_headers"]

OPENAI_BASE = "https://api.openai.com/v1"


def extra_headers(route: Route) -> dict[str, str]:
    return {k: v.get_secret_value() for k, v in route.provider.headers.items()}


class Endpoint(Protocol):
    def url(self, route: Route, operation: str) -> str:
        """Full URL for `operation` in generations / edits / variations."""
        ...

    def headers(self, route: Route) -> dict[str, str]: ...

    def params(self, route: Route) -> dict[str, str]: ...


class OpenAIEndpoint:
    """`{base}/images/{operation}` with `Authorization: Bearer <key>`."""

    def url(self, route: Route, operation: str) -> str:
        return f"{route.provider.base_url or OPENAI_BASE}/images/{operation}"

    def headers(self, route: Route) -> dict[str, str]:
        headers = extra_headers(route)
        if route.api_key is not None:
            headers["Authorization"] = f"Bearer {route.api_key.get_secret_value()}"
        return headers

    def params(self, route: Route) -> dict[str, str]:
        return {}
