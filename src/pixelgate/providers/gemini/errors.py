"""Gemini error answers → the gateway's error tree (doc §3.5).

    HTTP 400
    {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
               "status": "INVALID_ARGUMENT",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}}

Refused credentials (401, 403, or reason API_KEY_INVALID) become a 502 that never names the
key; 429 keeps Retry-After (header or google.rpc.RetryInfo); 5xx and timeouts are retryable
on another route; a 400 the request caused is passed on with Google's message. Bodies may
also come as a one-element array `[{"error": {...}}]`.
"""

from __future__ import annotations

from typing import Any

import orjson

from pixelgate.errors import (
    GatewayError,
    RequestError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixelgate.providers.base import Route, UpstreamResponse

__all__ = ["map_error"]

_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED"})
# 400s that are about the gateway's account or region, not the client's request.
_ACCOUNT_STATUSES = frozenset({"FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "PERMISSION_DENIED"})
_MESSAGE_CHARS = 500


def _error(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: dict[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_after(resp: UpstreamResponse, error: dict[str, Any]) -> float | None:
    header = resp.headers.get("retry-after") or resp.headers.get("Retry-After")
    if header:
        try:
            return float(header)
        except ValueError:
            pass
    for detail in _details(error):
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None


def _clean(message: Any, route: Route) -> str:
    text = str(message or "no message")[:_MESSAGE_CHARS]
    key = route.provider.api_key
    if key is not None and key.get_secret_value():
        text = text.replace(key.get_secret_value(), "***")
    return text


def map_error(resp: UpstreamResponse, route: Route) -> GatewayError:
    error = _error(resp.body)
    status = str(error.get("status", ""))
    reasons = {str(d.get("reason")) for d in _details(error)}
    where = f"The Gemini upstream of deployment {route.name!r}"
    if resp.status in (401, 403) or reasons & _AUTH_REASONS:
        return UpstreamAuthError(f"{where} refused the gateway's credentials.")
    if resp.status == 429:
        return UpstreamRateLimited(
            f"{where} is rate limited or out of quota.", retry_after=_retry_after(resp, error)
        )
    if resp.status == 400 and status not in _ACCOUNT_STATUSES:
        return RequestError(
            f"The upstream rejected the request: {_clean(error.get('message'), route)}",
            code="upstream_invalid_request",
        )
    if resp.status == 404:
        return UpstreamError(f"{where} does not serve the model {route.upstream_model!r}.")
    if resp.status in (502, 503):
        return UpstreamUnavailable(f"{where} is unavailable (HTTP {resp.status}).")
    if resp.status == 504:
        return UpstreamTimeout(f"{where} did not finish in time (HTTP 504).")
    return UpstreamError(f"{where} failed (HTTP {resp.status} {status}).".replace(" )", ")"))
