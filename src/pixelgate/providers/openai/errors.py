"""Upstream error answers of OpenAI-Images-speaking servers → the gateway's error tree.

OpenAI's envelope: `{"error": {"message", "type", "param", "code"}}`; Azure uses the same
outer key with `code`/`message`. Auth failures never relay the upstream message (OpenAI's
echoes part of the key); the client's own key is fine, so they are 502s.
"""

from __future__ import annotations

from typing import Any

import orjson

from pixelgate.errors import (
    ContentPolicyError,
    GatewayError,
    InvalidParameter,
    RequestError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from pixelgate.providers.base import Route, UpstreamResponse

__all__ = ["POLICY_CODES", "map_openai_error", "retry_after"]

POLICY_CODES = frozenset(
    {"moderation_blocked", "content_policy_violation", "content_filter", "safety_violation"}
)


def retry_after(headers: dict[str, str]) -> float | None:
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            return seconds / 1000 if name == "retry-after-ms" else seconds
    return None


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return dict(data["error"])
    return {}


def map_openai_error(resp: UpstreamResponse, route: Route) -> GatewayError:
    err = _envelope(resp.body)
    message = str(err.get("message") or "")
    code = err.get("code")
    code = str(code) if code is not None else None
    param = err.get("param") if isinstance(err.get("param"), str) else None
    status = resp.status
    if status in (401, 403):
        return UpstreamAuthError(
            f"The upstream rejected the credentials of deployment {route.name} "
            f"(HTTP {status}); the gateway operator has to fix them."
        )
    if status == 429:
        return UpstreamRateLimited(
            f"The upstream of {route.name} is rate limiting; try again later.",
            retry_after=retry_after(resp.headers),
        )
    if status == 400 and code in POLICY_CODES:
        return ContentPolicyError(message or "Rejected by the upstream's safety system.", code=code)
    if status in (400, 422):
        if param:
            return InvalidParameter(message or "The upstream refused a parameter.", param=param)
        return RequestError(message or "The upstream refused the request.", code=code)
    if status == 404:
        return UpstreamError(f"The upstream of {route.name} does not know this model or path.")
    if status == 503:
        return UpstreamUnavailable(f"The upstream of {route.name} is unavailable (HTTP 503).")
    return UpstreamError(f"The upstream of {route.name} failed (HTTP {status}).")
