"""Operator signals of a running gateway: Prometheus /metrics (one process, and several
sharing PROMETHEUS_MULTIPROC_DIR) and JSON logs carrying the request id."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.server import free_port
from tests.support.db import usage_rows
from tests.support.gateway import Gateway, start_gateway


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def generate(gw: Gateway, model: str = "sandbox-image", n: int = 1) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/v1/images/generations",
        headers=gw.headers,
        json={"model": model, "prompt": "signals", "n": n}
        | ({"size": "64x64"} if model == "sandbox-image" else {}),
        timeout=60,
    )


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("signals")
    config = tmp / "pixelgate.yaml"
    # An upstream nobody listens on: its failures feed the error counter and the circuit.
    config.write_text(
        "routing: {failure_threshold: 1, cooldown_seconds: 3600}\n"
        "providers:\n"
        f"  dead: {{type: openai, base_url: 'http://127.0.0.1:{free_port()}/v1', "
        "api_key: sk-never-logged-7Qx}\n"
        "deployments:\n  - {model: gpt-image-1, provider: dead}\n"
    )
    gw = start_gateway(tmp / "gw", None, PIXELGATE_CONFIG=str(config), PIXELGATE_LOG_LEVEL="info")
    yield gw
    gw.stop()


def test_metrics_count_requests_images_errors_and_circuits(gw: Gateway) -> None:
    assert generate(gw, n=2).status_code == 200
    assert generate(gw, model="gpt-image-1").status_code >= 500
    assert generate(gw, model="no-such-model-xyz").status_code == 404
    resp = httpx.get(gw.base_url + "/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    ok = {"dialect": "openai", "model": "sandbox-image", "deployment": "sandbox/sandbox-image"}
    assert sample(text, "pixelgate_requests_total", status="200", **ok) == 1
    assert sample(text, "pixelgate_request_duration_seconds_count", **ok) == 1
    assert sample(text, "pixelgate_request_duration_seconds_bucket", le="+Inf", **ok) == 1
    assert sample(text, "pixelgate_images_total", model="sandbox-image") == 2
    dead = "dead/gpt-image-1"
    assert sample(text, "pixelgate_upstream_errors_total", deployment=dead) == 1
    assert sample(text, "pixelgate_circuit_state", deployment=dead) == 2  # open
    assert sample(text, "pixelgate_circuit_state", deployment="sandbox/sandbox-image") == 0
    # A client's unknown model name never becomes a label value of its own.
    assert "no-such-model-xyz" not in text
    assert sample(text, "pixelgate_requests_total", model="other", status="404") == 1
    # Declared for the tasks and billing features (no samples until they are merged).
    assert "# TYPE pixelgate_tasks gauge" in text
    assert re.search(r"# TYPE pixelgate_cost_committed_micros(_total)? counter", text)


def test_logs_are_json_lines_with_the_request_id(gw: Gateway) -> None:
    resp = generate(gw)
    request_id = resp.headers["x-request-id"]
    assert usage_rows(gw)[-1].request_id == request_id
    failed = generate(gw, model="gpt-image-1")
    lines = [line for line in gw.logs().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "message"} <= set(e) for e in entries)
    access = [e for e in entries if e["logger"] == "pixelgate.access"]
    mine = next(e for e in access if e["request_id"] == request_id)
    assert (mine["status"], mine["model"], mine["images"]) == (200, "sandbox-image", 1)
    failure_id = failed.headers["x-request-id"]
    warning = [e for e in entries if e["level"] == "warning" and e.get("request_id") == failure_id]
    assert warning and "upstream" in warning[0]["message"]
    logs = gw.logs()
    assert gw.key not in logs and "sk-never-logged-7Qx" not in logs and "b64_json" not in logs


def test_metrics_add_up_across_processes(tmp_path: Path) -> None:
    """Two gateway processes sharing one multiprocess directory (as uvicorn workers do):
    either one's /metrics shows the requests both served."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    data = tmp_path / "data"
    first = start_gateway(data, None, PROMETHEUS_MULTIPROC_DIR=str(shared))
    try:
        second = start_gateway(data, None, PROMETHEUS_MULTIPROC_DIR=str(shared))
        try:
            for gw, count in ((first, 2), (second, 3)):
                for _ in range(count):
                    assert generate(gw).status_code == 200
            for gw in (first, second):
                text = httpx.get(gw.base_url + "/metrics").text
                total = sample(
                    text, "pixelgate_requests_total", model="sandbox-image", status="200"
                )
                assert total == 5
                assert sample(text, "pixelgate_images_total", model="sandbox-image") == 5
        finally:
            second.stop()
    finally:
        first.stop()


def test_traces_by_configuration_alone(tmp_path: Path) -> None:
    """OTEL_TRACES_EXPORTER=console: one server span per request, flushed at shutdown."""
    gw = start_gateway(
        tmp_path / "gw", None, OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="pg-traced"
    )
    try:
        request_id = generate(gw).headers["x-request-id"]
    finally:
        gw.stop()
    logs = gw.logs()
    assert f'"pixelgate.request_id": "{request_id}"' in logs
    assert '"service.name": "pg-traced"' in logs and '"kind": "SpanKind.SERVER"' in logs
    assert gw.key not in logs
