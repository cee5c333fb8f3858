"""BFL error answers → the gateway's error tree.

BFL answers a missing or wrong `x-key` with 403 `{"detail": "Not authenticated…"}`, an
exhausted balance with 402, too many active tasks with 429 (`retry_after` in the body, and
a Retry-After header), and FastAPI validation errors with 422
`{"detail": [{"loc": ["body", "width"], "msg": …}]}`.
"""

from __future__ import annotations

from typing import Any

import orjson

from pixelgate.errors import (
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

__all__ = ["map_bfl_error"]


def _body(resp: UpstreamResponse) -> Any:
    try:
        return orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        return None


def _validation(detail: list[Any]) -> GatewayError:
    first = detail[0] if detail and isinstance(detail[0], dict) else {}
    loc = first.get("loc") if isinstance(first.get("loc"), list) else []
    param = str(loc[-1]) if loc and loc[0] == "body" and len(loc) > 1 else None
    message = str(first.get("msg") or "The upstream refused a parameter.")
    if param:
        return InvalidParameter(f"{param}: {message}", param=param)
    return RequestError(message)


def map_bfl_error(resp: UpstreamResponse, route: Route) -> GatewayError:
    body = _body(resp)
    detail = body.get("detail") if isinstance(body, dict) else None
    status = resp.status
    if status in (401, 403):
        return UpstreamAuthError(
            f"The upstream rejected the credentials of deployment {route.name} "
            f"(HTTP {status}); the gateway operator has to fix them."
        )
    if status == 402:
        return UpstreamError(
            f"The upstream account of {route.name} is out of credits.",
            code="upstream_insufficient_credits",
        )
    if status == 429:
        wait = retry_after(resp.headers)
        if wait is None and isinstance(body, dict) and isinstance(body.get("retry_after"), int):
            wait = float(body["retry_after"])
        return UpstreamRateLimited(
            f"The upstream of {route.name} has too many active tasks; try again later.",
            retry_after=wait,
        )
    if status == 422 and isinstance(detail, list):
        return _validation(detail)
    if status in (400, 422):
        return RequestError(str(detail) if detail else "The upstream refused the request.")
    if status == 404:
        return UpstreamError(f"The upstream of {route.name} does not know this model or path.")
    if status == 503:
        return UpstreamUnavailable(f"The upstream of {route.name} is unavailable (HTTP 503).")
    return UpstreamError(f"The upstream of {route.name} failed (HTTP {status}).")
