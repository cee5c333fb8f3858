"""`POST /v1/images/generations` and `POST /v1/images/edits` (OpenAI Images dialect)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, ResponseFormat
from pixelgate.dialects import openai_images
from pixelgate.errors import RequestError, UnsupportedMediaType
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of

__all__ = ["OPENAI", "routes"]

FormParser = Callable[[FormData, ResponseFormat, int], Awaitable[ImageRequest]]

OPENAI = Dialect(openai_images.NAME, openai_images.render_error)
MAX_FORM_FIELDS = 64


async def _respond(ctx: RequestContext, request: Request, req: ImageRequest) -> Response:
    ctx.operation = req.operation.value
    ctx.model = req.model
    ctx.prompt_preview = req.prompt
    outcome = await services_of(request).pipeline.images(ctx, req)
    return JSONResponse(openai_images.render(outcome))


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


async def generations(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        if _content_type(request) == "multipart/form-data":  # image-to-image uploads
            req = await _form_request(request, openai_images.parse_generation_form)
            return await _respond(ctx, request, req)
        body = await read_json_object(request)
        ctx.model = body.get("model") if isinstance(body.get("model"), str) else None
        req = openai_images.parse_generation(body, _default_rf(request))
        return await _respond(ctx, request, req)

    return await run_endpoint(request, OPENAI, handle)


async def edits(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        settings = services_of(request).settings
        ctype = _content_type(request)
        if ctype == "multipart/form-data":
            req = await _form_request(request, openai_images.parse_edit_form)
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


routes = [
    Route("/v1/images/generations", generations, methods=["POST"]),
    Route("/v1/images/edits", edits, methods=["POST"]),
]
