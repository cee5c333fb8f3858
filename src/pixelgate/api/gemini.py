"""`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent` (Gemini-native
dialect, seed 004), also under `/v1/models/…` where the google-genai SDK 3.x sends them.

`/v1/models` and `/v1/models/{id}` (GET) are OpenAI's model list; these routes take POST and
only the `:generateContent` / `:streamGenerateContent` suffixes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest
from pixelgate.core.native import NativeCall
from pixelgate.dialects import gemini_native
from pixelgate.errors import GatewayError, NotFound
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of
from pixelgate.http.streams import first_part, then

__all__ = ["GEMINI", "routes"]

GEMINI = Dialect(gemini_native.NAME, gemini_native.render_error, query_key=True)
METHODS = {"generateContent": False, "streamGenerateContent": True}
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def generate(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        model, _, method = request.path_params["target"].rpartition(":")
        if not model or method not in METHODS:
            raise NotFound(
                f"No method {request.url.path!r}: use models/{{model}}:generateContent "
                "or :streamGenerateContent."
            )
        stream, sse = METHODS[method], request.query_params.get("alt") == "sse"
        ctx.model = model
        body = await read_json_object(request)
        ctx.prompt_preview = gemini_native.prompt_of(body)
        ctx.operation = gemini_native.operation_of(body)
        pipeline = services_of(request).pipeline
        call = NativeCall(gemini_native.NAME, await request.body(), stream, sse)
        try:
            parsed: ImageRequest | GatewayError = gemini_native.parse(body, model)
        except GatewayError as exc:
            parsed = exc  # a Gemini upstream judges its own body; others need it valid
        billing_view = parsed if isinstance(parsed, ImageRequest) else ImageRequest(model, "")
        native = await pipeline.passthrough(ctx, model, call, billing_view)
        if native is not None and native.events is not None:
            events = gemini_native.sse(ctx, native.events)
            return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
        if native is not None:
            return Response(native.body, media_type="application/json")
        if isinstance(parsed, GatewayError):
            raise parsed
        req = parsed
        ctx.dropped_params += gemini_native.dropped(body)
        if not stream:
            return JSONResponse(gemini_native.render(await pipeline.images(ctx, req)))
        parts = pipeline.stream(ctx, req)
        first = await first_part(parts)
        chunks = gemini_native.chunks(ctx.model or model, then(first, parts))
        if sse:
            events = gemini_native.sse(ctx, chunks)
            return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
        return JSONResponse([chunk async for chunk in chunks])

    return await run_endpoint(request, GEMINI, handle)


routes = [
    Route("/v1beta/models/{target:path}", generate, methods=["POST"]),
    Route("/v1/models/{target:path}", generate, methods=["POST"]),
]
