"""Deployments: each upstream deployment's circuit state and counts (this process's
`Router.health()`), and its recent error rate and latency (the usage log, every process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from pixelgate.console import data
from pixelgate.console.web import forbidden, page, to_login, viewer
from pixelgate.http.runner import services_of

__all__ = ["deployments_page"]

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


async def deployments_page(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    if not who.is_admin:
        return forbidden(request, who, "Deployments are visible to the admin only.")
    services = services_of(request)
    window = request.query_params.get("window", "1h")
    if window not in WINDOWS:
        window = "1h"
    stats = await data.deployment_stats(services.engine, datetime.now(UTC) - WINDOWS[window])
    health = services.router.health()
    return page(
        request,
        who,
        "deployments.html",
        deployments=health["deployments"],
        credentials=health["credentials"],
        stats=stats,
        window=window,
        windows=list(WINDOWS),
    )
