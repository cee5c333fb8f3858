"""Gateways configured against the BFL and midjourney-proxy fakes, for the task tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fakes import bfl, midjourney
from tests.fakes.server import serve
from tests.support.gateway import Gateway, start_gateway

BFL_KEY = "bfl-test-key"
MJ_SECRET = "mj-test-secret"
FLUX_MODELS = (
    "flux-pro-1.1",
    "flux-pro-1.1-ultra",
    "flux-kontext-pro",
    "flux-kontext-max",
    "flux-dev",
)
FINAL = ("completed", "failed", "succeeded")


@dataclass
class Fakes:
    bfl: bfl.BFLFakeState
    mj: midjourney.MidjourneyFakeState
    bfl_url: str
    mj_url: str


@contextmanager
def fakes() -> Iterator[Fakes]:
    with ExitStack() as stack:
        b = bfl.BFLFakeState()
        m = midjourney.MidjourneyFakeState()
        b_url = stack.enter_context(serve(bfl.create_app(b)))
        m_url = stack.enter_context(serve(midjourney.create_app(m)))
        yield Fakes(b, m, b_url, m_url)


FAST = {
    "poll_initial_seconds": 0.05,
    "poll_max_seconds": 0.3,
    "lease_seconds": 2,
    "scan_interval_seconds": 0.2,
    "wait_recheck_seconds": 0.3,
    "sync_wait_seconds": 60,
    "webhook_backoff_seconds": 0.2,
}


def config(f: Fakes, **tasks: float) -> str:
    """YAML: every FLUX model on the BFL fake, `midjourney` on the proxy fake, and fast
    task polling (`tasks` overrides single settings)."""
    flux = "\n".join(f"  - {{model: {m}, provider: bfl}}" for m in FLUX_MODELS)
    settings = ", ".join(f"{k}: {v}" for k, v in (FAST | tasks).items())
    return f"""
routing: {{failure_threshold: 1000}}
tasks: {{{settings}}}
providers:
  bfl: {{type: bfl, base_url: "{f.bfl_url}", api_key: {BFL_KEY}}}
  mj: {{type: midjourney, base_url: "{f.mj_url}", api_key: {MJ_SECRET}}}
deployments:
{flux}
  - {{model: midjourney, provider: mj}}
"""


def start(tmp: Path, f: Fakes, database_url: str | None = None, **env: str) -> Gateway:
    path = tmp / "pixelgate.yaml"
    if not path.exists():
        path.write_text(config(f))
    env.setdefault("PIXELGATE_FETCH_ALLOW_NETWORKS", "127.0.0.0/8")
    return start_gateway(tmp / "gw", database_url, PIXELGATE_CONFIG=str(path), **env)


def create(gw: Gateway, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    resp = httpx.post(
        gw.base_url + "/v1/images/generations",
        json={"async": True, **body},
        headers=headers or gw.headers,
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def get(gw: Gateway, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(gw.base_url + path, headers=headers or gw.headers, timeout=30)


def wait(
    gw: Gateway,
    task_id: str,
    until: tuple[str, ...] = FINAL,
    prefix: str = "/v1/tasks/",
    headers: dict[str, str] | None = None,
    seconds: float = 90,
) -> Any:
    """Poll the gateway until the task's status is one of `until`."""
    deadline = time.monotonic() + seconds
    while True:
        resp = get(gw, prefix + task_id, headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if body["status"] in until:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} stuck in {body['status']}:\n{gw.logs()}")
        time.sleep(0.1)
