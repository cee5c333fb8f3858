"""DashScope-shaped requests: DashScope's own paths (sync multimodal generation, the async
image-synthesis and image-generation task APIs, `GET /api/v1/tasks/{id}`) and the seed-000
body on `/v1/images/generations` (dispatched here from the OpenAI endpoint by its shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest
from pixelgate.dialects import dashscope, dashscope_tasks
from pixelgate.errors import NotFound
from pixelgate.http.disconnect import cancel_on_disconnect
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of
from pixelgate.tasks.models import Origin
from pixelgate.tasks.service import TaskOptions, TaskStillRunning

__all__ = ["DASHSCOPE", "respond", "routes"]

DASHSCOPE = Dialect(dashscope.NAME, dashscope.render_error)
SERVICES = "/api/v1/services/aigc"
Parser = Callable[[dict[str, Any], bool], ImageRequest]


def _start(ctx: RequestContext, req: ImageRequest) -> None:
    ctx.operation = req.operation.value
    ctx.model = req.model
    ctx.prompt_preview = req.prompt


async def respond(ctx: RequestContext, request: Request, body: dict[str, Any]) -> Response:
    services = services_of(request)
    req = dashscope.parse(body, not services.config.defaults.rehost_upstream_urls)
    _start(ctx, req)
    try:
        outcome = await cancel_on_disconnect(request, services.pipeline.images(ctx, req))
    except TaskStillRunning as pending:
        return JSONResponse(dashscope_tasks.render_task(pending.task, []))
    return JSONResponse(dashscope.render(outcome, ctx.request_id))


async def multimodal_generation(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        return await respond(ctx, request, await read_json_object(request))

    return await run_endpoint(request, DASHSCOPE, handle)


def _task_endpoint(parse: Parser, family: str) -> Callable[[Request], Any]:
    """An async-capable DashScope path: with `X-DashScope-Async: enable` a task is created
    and answered at once; without it the request waits for the finished task."""

    async def endpoint(request: Request) -> Response:
        async def handle(ctx: RequestContext) -> Response:
            services = services_of(request)
            body = await read_json_object(request)
            req = parse(body, not services.config.defaults.rehost_upstream_urls)
            _start(ctx, req)
            if request.headers.get("x-dashscope-async", "").lower() == "enable":
                options = TaskOptions(Origin.DASHSCOPE, family=family)
                task = await services.tasks.submit(ctx, req, options)
                return JSONResponse(dashscope_tasks.render_created(task))
            try:
                outcome = await cancel_on_disconnect(request, services.pipeline.images(ctx, req))
            except TaskStillRunning as pending:
                return JSONResponse(dashscope_tasks.render_task(pending.task, []))
            return JSONResponse(dashscope_tasks.render_finished(outcome, family, ctx.request_id))

        return await run_endpoint(request, DASHSCOPE, handle)

    return endpoint


async def get_task(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        tasks = services_of(request).tasks
        task_id = request.path_params["task_id"]
        try:
            task = await tasks.get(ctx, task_id)
        except NotFound:
            return JSONResponse(dashscope_tasks.render_unknown(task_id))
        ctx.model = task.model
        urls = tasks.signed_urls(task, ctx.base_url)
        return JSONResponse(dashscope_tasks.render_task(task, urls))

    return await run_endpoint(request, DASHSCOPE, handle)


synthesis = _task_endpoint(dashscope_tasks.parse_synthesis, dashscope_tasks.RESULTS)
routes = [
    Route(f"{SERVICES}/multimodal-generation/generation", multimodal_generation, methods=["POST"]),
    Route(f"{SERVICES}/text2image/image-synthesis", synthesis, methods=["POST"]),
    Route(f"{SERVICES}/image2image/image-synthesis", synthesis, methods=["POST"]),
    Route(
        f"{SERVICES}/image-generation/generation",
        _task_endpoint(dashscope.parse, dashscope_tasks.CHOICES),
        methods=["POST"],
    ),
    Route("/api/v1/tasks/{task_id}", get_task, methods=["GET"]),
]
