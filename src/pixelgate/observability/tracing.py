"""Optional OpenTelemetry traces, turned on by configuration alone.

Set the standard `OTEL_TRACES_EXPORTER` (`console`, or `otlp` with
`OTEL_EXPORTER_OTLP_ENDPOINT`; `OTEL_SERVICE_NAME` and the other OTEL_* variables apply)
and install the packages (`pip install 'pixelgate[otel]'`). Unset, or without the
packages, tracing is off and costs nothing.

Each API request becomes one server span, written when the request is done (its start is
the request's start): path, status, model, deployment, key id, images and the request id,
with an event per failed upstream attempt. Spans hold no prompt, key or image data.
Incoming `traceparent` headers are not joined yet: each request starts its own trace.
"""

from __future__ import annotations

import logging
import os
import time
from importlib.metadata import entry_points
from typing import Any

from pixelgate.core.context import RequestContext

__all__ = ["RequestTracer", "build_tracer"]

log = logging.getLogger("pixelgate.tracing")


class RequestTracer:
    def __init__(self, provider: Any) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("pixelgate")

    def request_done(self, ctx: RequestContext, status: int, error_code: str | None) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        end = time.time_ns()
        start = end - int((time.monotonic() - ctx.started) * 1e9)
        attributes: dict[str, Any] = {
            "url.path": ctx.endpoint,
            "http.response.status_code": status,
            "pixelgate.request_id": ctx.request_id,
            "pixelgate.dialect": ctx.dialect,
            "pixelgate.images": ctx.images,
        }
        for name, value in (
            ("pixelgate.model", ctx.model),
            ("pixelgate.deployment", ctx.deployment),
            ("pixelgate.key_id", ctx.key_id),
            ("error.type", error_code),
        ):
            if value:
                attributes[name] = value
        span = self._tracer.start_span(
            ctx.endpoint, kind=SpanKind.SERVER, start_time=start, attributes=attributes
        )
        for deployment, code in ctx.upstream_errors:
            span.add_event("upstream_error", {"deployment": deployment, "code": code})
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, error_code))
        span.end(end_time=end)

    def close(self) -> None:
        self._provider.shutdown()  # flushes spans still in the batch


def build_tracer() -> RequestTracer | None:
    """A tracer when OTEL_TRACES_EXPORTER names exporters that are installed, else None."""
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [n for n in names if n and n != "none"]
    if not names:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_TRACES_EXPORTER is set but opentelemetry-sdk is not installed")
        return None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "pixelgate")})
    provider = TracerProvider(resource=resource)
    for name in names:
        found = list(entry_points(group="opentelemetry_traces_exporter", name=name))
        if not found:
            log.warning("no OpenTelemetry trace exporter named %r is installed", name)
            continue
        provider.add_span_processor(BatchSpanProcessor(found[0].load()()))
    return RequestTracer(provider)
