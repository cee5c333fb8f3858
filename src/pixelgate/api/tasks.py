"""`GET /v1/tasks/{id}` (seed 003): a task's state, and its image links once completed.

`POST /v1/tasks/{id}/actions` `{"action": "U1"}` runs a follow-up action the task offers
(`actions` in its JSON, e.g. Midjourney's U1-U4 / V1-V4) as a new task, answered like an
async create.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.api.images import OPENAI
from pixelgate.core.context import RequestContext
from pixelgate.dialects import tasks_v1
from pixelgate.dialects.fields import req_str
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import run_endpoint, services_of
from pixelgate.tasks.models import Origin
from pixelgate.tasks.service import TaskOptions

__all__ = ["routes"]


async def get_task(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        tasks = services_of(request).tasks
        task = await tasks.get(ctx, request.path_params["task_id"])
        ctx.model = task.model
        return JSONResponse(tasks_v1.render_task(task, tasks.signed_urls(task, ctx.base_url)))

    return await run_endpoint(request, OPENAI, handle)


async def act(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        body = await read_json_object(request)
        action = req_str(body, "action")
        options = tasks_v1.parse_options({"async": True, **body})
        ctx.operation = "action"
        task = await services_of(request).tasks.act(
            ctx,
            request.path_params["task_id"],
            action,
            TaskOptions(Origin.V1, callback_url=options.callback_url),
        )
        return JSONResponse(tasks_v1.render_created(task))

    return await run_endpoint(request, OPENAI, handle)


routes = [
    Route("/v1/tasks/{task_id}", get_task, methods=["GET"]),
    Route("/v1/tasks/{task_id}/actions", act, methods=["POST"]),
]
