"""The /v2/extend/image API (seed 001): Seedream, Gemini and GPT-Image families as tasks.

Every generation here is asynchronous: the answer is `{task_id, model}` and the client
polls `GET /v2/extend/image[/<family>]/tasks/{id}`. The model behind each family comes from
the `extend_v2:` section of the configuration (the sandbox by default).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.core.context import RequestContext
from pixelgate.dialects import extend_v2, tasks_v1
from pixelgate.errors import ModelNotFound
from pixelgate.http.idempotent import run_idempotent
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import Dialect, run_endpoint, services_of
from pixelgate.tasks.models import Origin
from pixelgate.tasks.service import TaskOptions

__all__ = ["EXTEND", "routes"]

EXTEND = Dialect(extend_v2.NAME, extend_v2.render_error)
BASE = "/v2/extend/image"


def _generate(family: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        async def handle(ctx: RequestContext) -> Response:
            services = services_of(request)
            body = await read_json_object(request)
            config = getattr(services.config.extend_v2, family)
            if family == "gemini":

                def known(name: str) -> bool:
                    try:
                        services.router.canonical(name)
                    except ModelNotFound:
                        return False
                    return True

                model = extend_v2.gemini_model(body, config, known)
            else:
                model = config.model
            req = extend_v2.parse(family, body, model)
            ctx.operation = req.operation.value
            ctx.model = model
            ctx.prompt_preview = req.prompt
            callback = tasks_v1.parse_options({"async": True, **body}).callback_url
            options = TaskOptions(Origin.V2, family=family, callback_url=callback)

            async def create() -> dict[str, Any]:
                task = await services.tasks.submit(ctx, req, options)
                return extend_v2.render_created(task)

            return await run_idempotent(ctx, request, services, req, create)

        return await run_endpoint(request, EXTEND, handle)

    return endpoint


def _read(family: str | None) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        async def handle(ctx: RequestContext) -> Response:
            tasks = services_of(request).tasks
            task = await tasks.get(ctx, request.path_params["task_id"], family)
            ctx.model = task.model
            urls = tasks.signed_urls(task, ctx.base_url)
            return JSONResponse(extend_v2.render_task(task, urls))

        return await run_endpoint(request, EXTEND, handle)

    return endpoint


routes = [
    Route(f"{BASE}/seedream/generations", _generate("seedream"), methods=["POST"]),
    Route(f"{BASE}/generations", _generate("gemini"), methods=["POST"]),
    Route(f"{BASE}/gpt_image/generations", _generate("gpt_image"), methods=["POST"]),
    Route(f"{BASE}/tasks/{{task_id}}", _read(None), methods=["GET"]),
    Route(f"{BASE}/seedream/tasks/{{task_id}}", _read("seedream"), methods=["GET"]),
    Route(f"{BASE}/gpt_image/tasks/{{task_id}}", _read("gpt_image"), methods=["GET"]),
]
