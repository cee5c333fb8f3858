"""`GET /healthz` (the process is up) and `GET /readyz` (its database answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import services_of
from pixelgate.storage.db import ping

__all__ = ["routes"]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers; the detail shows each deployment's circuit and each
    credential pool (keys by position only, never their values)."""
    services = services_of(request)
    detail = services.router.health()
    try:
        await ping(services.engine)
    except Exception:
        return JSONResponse(
            {"status": "unavailable", "checks": {"database": "unreachable"}, **detail},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "checks": {"database": "ok"}, **detail})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
