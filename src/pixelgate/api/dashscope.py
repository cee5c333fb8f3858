"""DashScope-shaped requests: DashScope's own sync path and the seed-000 body on
`/v1/images/generations` (dispatched here from the OpenAI endpoint by its shape)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.core.context import RequestContext
from pixelgate.dialects import dashscope
from pixelgate.http.disconnect import cancel_on_disconnect
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of

__all__ = ["DASHSCOPE", "respond", "routes"]

DASHSCOPE = Dialect(dashscope.NAME, dashscope.render_error)


async def respond(ctx: RequestContext, request: Request, body: dict[str, Any]) -> Response:
    services = services_of(request)
    req = dashscope.parse(body, not services.config.defaults.rehost_upstream_urls)
    ctx.operation = req.operation.value
    ctx.model = req.model
    ctx.prompt_preview = req.prompt
    outcome = await cancel_on_disconnect(request, services.pipeline.images(ctx, req))
    return JSONResponse(dashscope.render(outcome, ctx.request_id))


async def multimodal_generation(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        return await respond(ctx, request, await read_json_object(request))

    return await run_endpoint(request, DASHSCOPE, handle)


routes = [
    Route(
        "/api/v1/services/aigc/multimodal-generation/generation",
        multimodal_generation,
        methods=["POST"],
    )
]
