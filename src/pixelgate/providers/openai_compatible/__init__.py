"""The `openai_compatible` provider: any server that speaks the OpenAI Images API — another
pixelgate, a hosted hub, a local server.

Configuration: `base_url` (e.g. `https://hub.example/v1`), `api_key`, `headers` (extra
headers), and `options.auth_header` (default `Authorization`) with `options.auth_scheme`
(default `Bearer`; empty for the bare key, as `X-API-Key`-style servers want).
Example: `POST {base_url}/images/generations` with `Authorization: Bearer <key>`.
"""

from __future__ import annotations

from pixelgate.providers.base import ProviderSpec, Route
from pixelgate.providers.openai.endpoint import OPENAI_BASE, extra_headers
from pixelgate.providers.openai.images import OpenAIImagesAdapter

__all__ = ["PROVIDER", "CompatibleEndpoint"]


class CompatibleEndpoint:
    def url(self, route: Route, operation: str) -> str:
        return f"{route.provider.base_url or OPENAI_BASE}/images/{operation}"

    def headers(self, route: Route) -> dict[str, str]:
        headers = extra_headers(route)
        key = route.api_key
        if key is not None:
            name = str(route.provider.options.get("auth_header", "Authorization"))
            scheme = str(route.provider.options.get("auth_scheme", "Bearer"))
            secret = key.get_secret_value()
            headers[name] = f"{scheme} {secret}" if scheme else secret
        return headers

    def params(self, route: Route) -> dict[str, str]:
        return {}


PROVIDER = ProviderSpec(
    type="openai_compatible",
    engine=OpenAIImagesAdapter(CompatibleEndpoint()),
    description="Any server speaking the OpenAI Images API.",
)
