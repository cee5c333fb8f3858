"""`GET /v1/models` in OpenAI's list shape."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.api.images import OPENAI
from pixelgate.core.context import RequestContext
from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import run_endpoint, services_of

__all__ = ["routes"]

_STARTED = int(time.time())


async def list_models(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        router = services_of(request).router
        data = [
            {"id": model, "object": "model", "created": _STARTED, "owned_by": "pixelgate"}
            for model in router.models()
        ]
        return JSONResponse({"object": "list", "data": data})

    return await run_endpoint(request, OPENAI, handle)


routes = [Route("/v1/models", list_models, methods=["GET"])]
