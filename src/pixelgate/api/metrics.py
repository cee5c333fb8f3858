"""`GET /metrics`: Prometheus text format (every gateway process's samples in multiprocess
mode). Unauthenticated, like /readyz: it holds counts and configured names, never keys or
prompts; keep it on an internal network or behind the proxy's access rules."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.http.runner import services_of
from pixelgate.observability.metrics import CONTENT_TYPE_LATEST

__all__ = ["routes"]


async def metrics(request: Request) -> Response:
    body = services_of(request).signals.exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"])]
