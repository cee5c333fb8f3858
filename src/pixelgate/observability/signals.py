"""What the endpoint runner reports once per request: metrics and the access log line."""

from __future__ import annotations

from pixelgate.core.context import RequestContext
from pixelgate.core.router import Router
from pixelgate.observability.logs import access_log
from pixelgate.observability.metrics import Metrics

__all__ = ["Signals"]


class Signals:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.metrics = Metrics(router.models())

    def request_done(self, ctx: RequestContext, status: int, error_code: str | None) -> None:
        self.metrics.request_done(ctx, status)
        if ctx.deployment is not None:
            self.metrics.set_circuits(self.router.health()["deployments"])
        access_log(ctx, status, error_code)

    def exposition(self) -> bytes:
        self.metrics.set_circuits(self.router.health()["deployments"])
        return self.metrics.exposition()
