"""Prometheus metrics, correct with one gateway process or several.

One process: the metrics live in this object's own registry. Several processes (uvicorn
workers, or several `pixelgate serve` on one host): set PROMETHEUS_MULTIPROC_DIR to an
empty directory shared by them before they start; every process then writes its samples
there (prometheus_client's multiprocess mode) and `/metrics`, answered by any of them,
adds them all up. `multiproc.prepare_multiprocess` sets that up for `serve` when
PIXELGATE_WORKERS is above 1 and the variable is not set.

Labels are bounded: `model` is a configured model name or "other" (a client's typo never
becomes a time series), deployment names come from the configuration, codes from the
error classes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from pixelgate.core.context import RequestContext
from pixelgate.observability.multiproc import MULTIPROC_ENV

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class Metrics:
    def __init__(self, models: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self._models = frozenset(models)
        r = self.registry
        self.requests = Counter(
            "pixelgate_requests",
            "Requests answered, by client dialect, model, deployment and HTTP status.",
            ["dialect", "model", "deployment", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "pixelgate_request_duration_seconds",
            "Time from receiving a request to answering it (to the end of a stream).",
            ["dialect", "model", "deployment"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "pixelgate_upstream_errors",
            "Failed upstream attempts (retried ones included), by deployment and error code.",
            ["deployment", "code"],
            registry=r,
        )
        self.images = Counter(
            "pixelgate_images",
            "Images delivered to clients, by model and deployment.",
            ["model", "deployment"],
            registry=r,
        )
        self.circuit = Gauge(
            "pixelgate_circuit_state",
            "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open (the worst of the "
            "gateway processes in multiprocess mode).",
            ["model", "deployment"],
            registry=r,
            multiprocess_mode="max",
        )
        # Declared for the tasks and billing features, which set them; until they are
        # merged these have no samples.
        self.tasks = Gauge(
            "pixelgate_tasks",
            "Async tasks by state.",
            ["state"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.cost_committed = Counter(
            "pixelgate_cost_committed_micros",
            "Money committed to the ledger, in micro-units, by model.",
            ["model"],
            registry=r,
        )

    def _model(self, model: str | None) -> str:
        if not model:
            return ""
        return model if model in self._models else "other"

    def request_done(self, ctx: RequestContext, status: int) -> None:
        model = self._model(ctx.model)
        deployment = ctx.deployment or ""
        self.requests.labels(ctx.dialect, model, deployment, str(status)).inc()
        self.latency.labels(ctx.dialect, model, deployment).observe(time.monotonic() - ctx.started)
        if ctx.images:
            self.images.labels(model, deployment).inc(ctx.images)
        for failed_deployment, code in ctx.upstream_errors:
            self.upstream_errors.labels(failed_deployment, code).inc()

    def set_circuits(self, deployments: Iterable[dict[str, Any]]) -> None:
        for dep in deployments:
            value = CIRCUIT_VALUES.get(str(dep["circuit"]), 2)
            self.circuit.labels(dep["model"], dep["deployment"]).set(value)

    def exposition(self) -> bytes:
        """The text format of every process's samples (multiprocess) or this one's."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
