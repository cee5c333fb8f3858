"""`GET /healthz` (the process is up) and `GET /readyz` (its database answers; and Redis,
when one is configured)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import services_of
from pixelgate.scale.redis_client import REDIS_ERRORS
from pixelgate.storage.db import ping

__all__ = ["routes"]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers; the detail shows each deployment's circuit and each
    credential pool (keys by position only, never their values).

    Redis down leaves the process ready ("degraded"): it is down for every process alike,
    and they still serve every key without a rate or concurrency cap; taking them all out
    of a load balancer would refuse those too."""
    services = services_of(request)
    detail = services.router.health()
    try:
        await ping(services.engine)
    except Exception:
        return JSONResponse(
            {"status": "unavailable", "checks": {"database": "unreachable"}, **detail},
            status_code=503,
        )
    checks = {"database": "ok"}
    if services.redis is not None:
        try:
            await services.redis.ping()
            checks["redis"] = "ok"
        except REDIS_ERRORS:
            checks["redis"] = "unreachable"
    status = "ok" if checks.get("redis", "ok") == "ok" else "degraded"
    return JSONResponse({"status": status, "checks": checks, **detail})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
