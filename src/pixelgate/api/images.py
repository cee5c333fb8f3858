"""`POST /v1/images/generations` and `POST /v1/images/edits` (OpenAI Images dialect).

With `"async": true` the request becomes a task and the answer is seed 003's
`{created, task_id, status: "pending", poll_url, data: []}`; a sync request to a
task-based upstream answers the same way when its wait runs out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pixelgate.api import dashscope as dashscope_api
from pixelgate.core import b64 as b64codec
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, ResponseFormat
from pixelgate.core.streaming import CompletedImage, StreamEvent
from pixelgate.dialects import openai_images, tasks_v1
from pixelgate.dialects.dashscope import is_dashscope_body
from pixelgate.errors import GatewayError, RequestError, UnsupportedMediaType
from pixelgate.http.disconnect import cancel_on_disconnect
from pixelgate.http.idempotent import run_idempotent
from pixelgate.http.jsonio import dumps, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of
from pixelgate.tasks.models import Origin
from pixelgate.tasks.service import TaskOptions, TaskStillRunning

__all__ = ["OPENAI", "routes"]

FormParser = Callable[[FormData, ResponseFormat, int], Awaitable[ImageRequest]]

OPENAI = Dialect(openai_images.NAME, openai_images.render_error)
MAX_FORM_FIELDS = 64


async def _respond(
    ctx: RequestContext, request: Request, req: ImageRequest, form: bool = False
) -> Response:
    ctx.operation = req.operation.value
    ctx.model = req.model
    ctx.prompt_preview = req.prompt
    services = services_of(request)
    pipeline = services.pipeline
    options = tasks_v1.parse_options(req.native, form)
    if options.run_async:

        async def create_task() -> dict[str, Any]:
            task = await services.tasks.submit(
                ctx, req, TaskOptions(Origin.V1, callback_url=options.callback_url)
            )
            return tasks_v1.render_created(task)

        return await run_idempotent(ctx, request, services, req, create_task)
    if req.stream:
        events = await pipeline.open_stream(ctx, req)
        return StreamingResponse(
            _sse(ctx, req, events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    async def produce() -> dict[str, Any]:
        try:
            outcome = await cancel_on_disconnect(request, pipeline.images(ctx, req))
        except TaskStillRunning as pending:
            return tasks_v1.render_created(pending.task)
        return openai_images.render(outcome)

    return await run_idempotent(ctx, request, services_of(request), req, produce)


async def _sse(
    ctx: RequestContext, req: ImageRequest, events: AsyncIterator[StreamEvent]
) -> AsyncIterator[bytes]:
    """OpenAI image stream events as they arrive; an error after the first byte becomes an
    `error` event (the status line has already gone out)."""
    try:
        async for event in events:
            if isinstance(event, CompletedImage):
                image = event.image
                b64 = b64codec.text(image.b64) if image.b64 else b64codec.encode(image.data or b"")
                ctx.images += 1
                ctx.bytes_out += len(b64) * 3 // 4
            else:
                b64 = event.b64
            name, payload = openai_images.render_stream_event(req, event, b64)
            yield b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n"
    except GatewayError as err:
        ctx.stream_error = err.error_code
        payload = {"type": "error", **openai_images.render_error(err)}
        yield b"event: error\ndata: " + dumps(payload) + b"\n\n"


def _default_rf(request: Request) -> ResponseFormat:
    return ResponseFormat(services_of(request).config.defaults.response_format)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _form_request(request: Request, parse: FormParser) -> ImageRequest:
    settings = services_of(request).settings
    try:
        form = await request.form(
            max_files=settings.max_images_per_request + 1, max_fields=MAX_FORM_FIELDS
        )
    except (MultiPartException, HTTPException) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", str(exc))
        raise RequestError(f"Malformed multipart body: {detail}") from None
    try:
        return await parse(form, _default_rf(request), settings.max_images_per_request)
    finally:
        await form.close()


async def _variation(form: FormData, default_rf: ResponseFormat, _max: int) -> ImageRequest:
    return await openai_images.parse_variation_form(form, default_rf)


async def generations(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        if _content_type(request) == "multipart/form-data":  # image-to-image uploads
            req = await _form_request(request, openai_images.parse_generation_form)
            return await _respond(ctx, request, req, form=True)
        body = await read_json_object(request)
        ctx.model = body.get("model") if isinstance(body.get("model"), str) else None
        if is_dashscope_body(body):
            ctx.dialect_override = dashscope_api.DASHSCOPE
            ctx.dialect = dashscope_api.DASHSCOPE.name
            return await dashscope_api.respond(ctx, request, body)
        req = openai_images.parse_generation(body, _default_rf(request))
        return await _respond(ctx, request, req)

    return await run_endpoint(request, OPENAI, handle)


async def edits(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        settings = services_of(request).settings
        ctype = _content_type(request)
        if ctype == "multipart/form-data":
            req = await _form_request(request, openai_images.parse_edit_form)
            return await _respond(ctx, request, req, form=True)
        elif ctype == "application/json":
            body = await read_json_object(request)
            req = openai_images.parse_edit_json(
                body, _default_rf(request), settings.max_images_per_request
            )
        else:
            raise UnsupportedMediaType(
                "Unsupported Content-Type for image edits: send multipart/form-data "
                "(files as 'image' or 'image[]', optional 'mask') or application/json."
            )
        return await _respond(ctx, request, req)

    return await run_endpoint(request, OPENAI, handle)


async def variations(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "multipart/form-data":
            raise UnsupportedMediaType(
                "Image variations take multipart/form-data with an 'image' file."
            )
        req = await _form_request(request, _variation)
        return await _respond(ctx, request, req, form=True)

    return await run_endpoint(request, OPENAI, handle)


routes = [
    Route("/v1/images/generations", generations, methods=["POST"]),
    Route("/v1/images/edits", edits, methods=["POST"]),
    Route("/v1/images/variations", variations, methods=["POST"]),
]
