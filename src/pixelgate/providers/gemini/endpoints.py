"""Where and how the gemini provider calls Google: the Gemini API (default) or Vertex AI.

Gemini API (doc §3.1)::

    POST https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-image-preview:generateContent
    x-goog-api-key: <api_key>

Vertex AI, configuration only (same body and answer)::

    POST https://aiplatform.googleapis.com/v1/projects/my-project/locations/global/publishers/google/models/gemini-3-pro-image-preview:generateContent
    x-goog-api-key: <express-mode key>        (or `auth: bearer`: Authorization: Bearer <token>)

Without `project`, Vertex's express-mode path `/v1/publishers/google/models/...` is used.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from pixelgate.errors import GatewayError
from pixelgate.providers.base import Route

__all__ = ["GeminiOptions", "auth_headers", "method_url", "options_of"]

GEMINI_API = "https://generativelanguage.googleapis.com"
VERTEX_API = "https://aiplatform.googleapis.com"


class GeminiOptions(BaseModel):
    """`options:` of a gemini provider in the YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_version: str | None = None  # v1beta on the Gemini API, v1 on Vertex AI
    vertex: bool = False
    project: str | None = None
    location: str = "global"
    auth: Literal["api_key", "bearer"] = "api_key"


def options_of(route: Route) -> GeminiOptions:
    try:
        return GeminiOptions.model_validate(route.provider.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        raise GatewayError(
            f"The gemini provider {route.provider_name!r} is misconfigured "
            f"(options.{where}: {first['msg']})."
        ) from None


def method_url(route: Route, method: str) -> str:
    """The URL of `method` (generateContent, streamGenerateContent) for the route's model."""
    opts = options_of(route)
    model = route.upstream_model
    if not opts.vertex:
        base = route.provider.base_url or GEMINI_API
        return f"{base}/{opts.api_version or 'v1beta'}/models/{model}:{method}"
    regional = f"https://{opts.location}-aiplatform.googleapis.com"
    base = route.provider.base_url or (VERTEX_API if opts.location == "global" else regional)
    version = opts.api_version or "v1"
    scope = f"projects/{opts.project}/locations/{opts.location}/" if opts.project else ""
    return f"{base}/{version}/{scope}publishers/google/models/{model}:{method}"


def auth_headers(route: Route) -> dict[str, str]:
    headers = {k: v.get_secret_value() for k, v in route.provider.headers.items()}
    headers["content-type"] = "application/json"
    key = route.provider.api_key
    if key is not None:
        if options_of(route).auth == "bearer":
            headers["authorization"] = f"Bearer {key.get_secret_value()}"
        else:
            headers["x-goog-api-key"] = key.get_secret_value()
    return headers
