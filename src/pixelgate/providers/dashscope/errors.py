"""DashScope error envelope `{"request_id", "code", "message"}` → the gateway's error tree.

DashScope may also answer HTTP 200 with a body that carries `code`/`message` and no output
(as new-api learned); that is an error too, never a 200 without an image.
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
from pixelgate.providers.openai.errors import retry_after

__all__ = ["error_in_body", "map_dashscope_error"]

_AUTH_CODES = ("InvalidApiKey", "AccessDenied", "Arrearage")
_POLICY_CODES = ("DataInspectionFailed", "InvalidParameter.DataInspection")


def error_in_body(body: Any) -> tuple[str, str] | None:
    """(code, message) when a parsed body is an error envelope, else None."""
    if isinstance(body, dict) and body.get("code") and "output" not in body:
        return str(body["code"]), str(body.get("message") or body.get("msg") or "")
    return None


def map_dashscope_error(resp: UpstreamResponse, route: Route) -> GatewayError:
    try:
        body = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        body = {}
    code, message = error_in_body(body) or ("", "")
    return dashscope_error(resp.status, code, message, route, resp.headers)


def dashscope_error(
    status: int, code: str, message: str, route: Route, headers: dict[str, str] | None = None
) -> GatewayError:
    if status in (401, 403) or code.startswith(_AUTH_CODES):
        return UpstreamAuthError(
            f"The upstream rejected the credentials or account of deployment {route.name} "
            f"({code or status}); the gateway operator has to fix them."
        )
    if code.startswith(_POLICY_CODES):
        return ContentPolicyError(
            message or "Rejected by the upstream's content inspection.", code=code
        )
    if status == 429 or code.startswith("Throttling"):
        return UpstreamRateLimited(
            f"The upstream of {route.name} is rate limiting; try again later.",
            retry_after=retry_after(headers or {}),
        )
    if status in (400, 413) or code.startswith(("InvalidParameter", "BadRequest", "InvalidURL")):
        if code.startswith("InvalidURL") or "url" in code.lower():
            return InvalidParameter(message or "An image URL was refused upstream.", param="image")
        return RequestError(message or "The upstream refused the request.", code=code or None)
    if status == 503:
        return UpstreamUnavailable(f"The upstream of {route.name} is unavailable (HTTP 503).")
    return UpstreamError(f"The upstream of {route.name} failed ({code or 'HTTP ' + str(status)}).")
