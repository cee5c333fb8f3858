"""`POST /api/v3/images/generations`: the Ark (Seedream) client shape, on any deployment."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, Size
from pixelgate.core.streaming import CompletedImage, StreamEvent
from pixelgate.dialects import ark
from pixelgate.errors import GatewayError
from pixelgate.http.disconnect import cancel_on_disconnect
from pixelgate.http.jsonio import JSONResponse, dumps, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of

__all__ = ["ARK", "routes"]

ARK = Dialect(ark.NAME, ark.render_error)


def _frame(name: str, payload: dict[str, object]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


async def _sse(
    ctx: RequestContext, request: Request, req: ImageRequest, events: AsyncIterator[StreamEvent]
) -> AsyncIterator[bytes]:
    pipeline = services_of(request).pipeline
    delivered = 0
    try:
        async for event in events:
            if not isinstance(event, CompletedImage):
                continue
            out = await pipeline.deliver_one(ctx, req, event.image)
            size = Size(event.image.width, event.image.height) if event.image.width else None
            yield _frame(*ark.render_event(req, event.image_index, out.b64_json, out.url, size))
            delivered += 1
        yield _frame(*ark.render_completed(req, delivered))
    except GatewayError as err:
        ctx.stream_error = err.error_code
        yield _frame("error", ark.render_error(err))
    yield b"data: [DONE]\n\n"


async def generations(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        body = await read_json_object(request)
        req = ark.parse(body)
        ctx.operation = req.operation.value
        ctx.model = req.model
        ctx.prompt_preview = req.prompt
        pipeline = services_of(request).pipeline
        if req.stream:
            events = await pipeline.open_stream(ctx, req)
            return StreamingResponse(
                _sse(ctx, request, req, events), media_type="text/event-stream"
            )
        outcome = await cancel_on_disconnect(request, pipeline.images(ctx, req))
        return JSONResponse(ark.render(outcome))

    return await run_endpoint(request, ARK, handle)


routes = [Route("/api/v3/images/generations", generations, methods=["POST"])]
