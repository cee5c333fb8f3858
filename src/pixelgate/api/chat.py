"""`POST /v1/chat/completions` for image models (OpenAI chat dialect, seed 000)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pixelgate.core.context import RequestContext
from pixelgate.dialects import openai_chat, openai_images
from pixelgate.dialects.openai_chat_stream import render_stream
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of
from pixelgate.http.streams import first_part, then

__all__ = ["CHAT", "routes"]

CHAT = Dialect(openai_chat.NAME, openai_images.render_error)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def completions(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        body = await read_json_object(request)
        ctx.model = body.get("model") if isinstance(body.get("model"), str) else None
        req, options = openai_chat.parse(body)
        ctx.operation = req.operation.value
        ctx.prompt_preview = req.prompt
        ctx.dropped_params += options.dropped
        pipeline = services_of(request).pipeline
        if not options.stream:
            return JSONResponse(openai_chat.render(await pipeline.images(ctx, req)))
        parts = pipeline.stream(ctx, req)
        first = await first_part(parts)
        return StreamingResponse(
            render_stream(ctx, then(first, parts), options.include_usage),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    return await run_endpoint(request, CHAT, handle)


routes = [Route("/v1/chat/completions", completions, methods=["POST"])]
