"""The endpoint runner: request id, authentication, error rendering in the client's dialect,
and the usage-log row — the same for every endpoint."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from pixelgate.auth.api_keys import Principal, extract_key
from pixelgate.core.context import RequestContext
from pixelgate.errors import AuthenticationError, GatewayError
from pixelgate.http.jsonio import JSONResponse
from pixelgate.observability.logs import bind_request_id
from pixelgate.services import Services

__all__ = ["ACTING_KEY_SCOPE", "REGION_HEADERS", "Dialect", "run_endpoint", "services_of"]

# ASGI scope entry naming the key a request acts for. Only in-process callers can set scope
# entries (the console's playground, which has verified the key itself); HTTP clients cannot.
ACTING_KEY_SCOPE = "pixelgate.acting_key_id"

log = logging.getLogger("pixelgate.http")

# The region selector; X-TokenHub-Region is accepted as an alias (seed 000).
REGION_HEADERS = ("x-pixelgate-region", "x-tokenhub-region")


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    render_error: Callable[[GatewayError], dict[str, Any]]
    query_key: bool = False


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def error_response(dialect: Dialect, err: GatewayError) -> Response:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(err.retry_after)))
    return JSONResponse(dialect.render_error(err), status_code=err.status, headers=headers)


async def _authenticate(request: Request, dialect: Dialect, services: Services) -> Principal:
    acting = request.scope.get(ACTING_KEY_SCOPE)
    if isinstance(acting, str):
        principal = await services.keys.principal(acting)
    else:
        query = request.query_params if dialect.query_key else None
        secret = extract_key(request.headers, query)
        if secret is None:
            raise AuthenticationError(
                "Missing API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key'."
            )
        principal = await services.keys.authenticate(secret)
    if principal is None:
        raise AuthenticationError("Invalid or revoked API key.")
    return principal


async def run_endpoint(
    request: Request,
    dialect: Dialect,
    handler: Callable[[RequestContext], Awaitable[Response]],
) -> Response:
    services = services_of(request)
    base = services.settings.public_url or str(request.base_url)
    ctx = RequestContext(
        request_id="req_" + uuid.uuid4().hex,
        dialect=dialect.name,
        endpoint=request.url.path,
        base_url=base.rstrip("/"),
        region=next((request.headers[h] for h in REGION_HEADERS if request.headers.get(h)), None),
    )
    bind_request_id(ctx.request_id)
    error_code: str | None = None
    status = 500
    # The key's concurrency slot: held until the answer is complete — for a stream, until
    # its last event has gone out, not when the handler returns.
    admitted = contextlib.AsyncExitStack()
    try:
        principal = await _authenticate(request, dialect, services)
        ctx.principal = principal
        client_ip = request.client.host if request.client else None
        await admitted.enter_async_context(services.access.admit(principal, client_ip))
        response = await handler(ctx)
    except GatewayError as err:
        error_code = err.error_code
        response = error_response(ctx.dialect_override or dialect, err)
        if err.status >= 500:
            log.warning("request %s failed: %s %s", ctx.request_id, err.error_code, err.message)
    except Exception:
        log.exception("request %s: unexpected error", ctx.request_id)
        error_code = "internal_error"
        response = error_response(
            dialect, GatewayError("The gateway hit an internal error; it has been logged.")
        )
    if not isinstance(response, StreamingResponse) or response.status_code >= 400:
        await admitted.aclose()
    status = response.status_code
    response.headers["X-Request-Id"] = ctx.request_id
    if ctx.dropped_params:
        # Field names come from the client: percent-encode them so any name fits a header.
        names = (quote(name, safe="-_.~[]") for name in ctx.dropped_params)
        response.headers["X-Pixelgate-Dropped-Params"] = ",".join(names)
    if isinstance(response, StreamingResponse):

        async def finish() -> None:
            await admitted.aclose()
            await services.usage.record(ctx, status, ctx.stream_error)
            services.signals.request_done(ctx, status, ctx.stream_error)

        # The row is written when the stream ends, with what it delivered.
        return _Tracked(response, finish)
    await services.usage.record(ctx, status, error_code)
    services.signals.request_done(ctx, status, error_code)
    return response


class _Tracked(StreamingResponse):
    """A streamed answer whose bookkeeping (the concurrency slot, the usage row) runs once
    it is over — finished, failed, or cut off by a client that left, even before the first
    byte (when the stream's own iterator never starts, so a `finally` in it would not run)."""

    def __init__(self, inner: StreamingResponse, finish: Callable[[], Awaitable[None]]) -> None:
        self.__dict__.update(inner.__dict__)  # the same answer: status, headers, body
        self._finish = finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Shielded: a client that hangs up cancels the stream, not its usage row.
            with anyio.CancelScope(shield=True):
                await self._finish()
