"""The `azure` provider: Azure OpenAI image deployments.

`POST {endpoint}/openai/deployments/{deployment}/images/generations?api-version=…` with the
`api-key` header; the deployment name is the deployment's `upstream_model`. Request and
response bodies are OpenAI's, so the OpenAI adapter does the translation.

Example: `POST https://my.openai.azure.com/openai/deployments/img2/images/generations
?api-version=2025-04-01-preview`, `api-key: …`, body `{"prompt": "a fox", "size": "1024x1024"}`.
"""

from __future__ import annotations

from pixelgate.providers.base import ProviderSpec, Route
from pixelgate.providers.openai.endpoint import extra_headers
from pixelgate.providers.openai.images import OpenAIImagesAdapter

__all__ = ["PROVIDER", "AzureEndpoint"]

DEFAULT_API_VERSION = "2025-04-01-preview"


class AzureEndpoint:
    def url(self, route: Route, operation: str) -> str:
        base = route.provider.base_url or ""
        return f"{base}/openai/deployments/{route.upstream_model}/images/{operation}"

    def headers(self, route: Route) -> dict[str, str]:
        headers = extra_headers(route)
        if route.api_key is not None:
            headers["api-key"] = route.api_key.get_secret_value()
        return headers

    def params(self, route: Route) -> dict[str, str]:
        version = route.provider.options.get("api_version", DEFAULT_API_VERSION)
        return {"api-version": str(version)}


PROVIDER = ProviderSpec(
    type="azure",
    engine=OpenAIImagesAdapter(AzureEndpoint()),
    description="Azure OpenAI image deployments (api-key header, api-version query).",
)
