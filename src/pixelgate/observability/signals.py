"""What the endpoint runner reports once per request: metrics, the access log line and,
when configured, a trace span."""

from __future__ import annotations

from pixelgate.core.context import RequestContext
from pixelgate.core.router import Router
from pixelgate.observability.logs import access_log
from pixelgate.observability.metrics import Metrics
from pixelgate.observability.tracing import build_tracer

__all__ = ["Signals"]


class Signals:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.metrics = Metrics(router.models())
        self.tracer = build_tracer()

    def request_done(self, ctx: RequestContext, status: int, error_code: str | None) -> None:
        self.metrics.request_done(ctx, status)
        if ctx.deployment is not None:
            self.metrics.set_circuits(self.router.health()["deployments"])
        access_log(ctx, status, error_code)
        if self.tracer is not None:
            self.tracer.request_done(ctx, status, error_code)

    def close(self) -> None:
        if self.tracer is not None:
            self.tracer.close()

    def exposition(self) -> bytes:
        self.metrics.set_circuits(self.router.health()["deployments"])
        return self.metrics.exposition()
