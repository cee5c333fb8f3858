"""Webhooks: the final task JSON POSTed once to `callback_url`, HMAC-signed, retried with
backoff after a failure, and never sent to an address the gateway may not reach."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.e2e.tasks_env import Fakes, config, create, fakes, start, wait
from tests.fakes.server import serve
from tests.support.gateway import Gateway


@dataclass
class Receiver:
    answers: list[int] = field(default_factory=list)  # statuses to answer, then 200
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


def receiver_app(state: Receiver) -> Starlette:
    async def hook(request: Request) -> Response:
        state.calls.append((dict(request.headers), await request.body()))
        return Response(status_code=state.answers.pop(0) if state.answers else 200)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Fakes, str, Receiver]]:
    tmp: Path = tmp_path_factory.mktemp("webhooks")
    state = Receiver()
    with fakes() as f, serve(receiver_app(state)) as hook_base:
        (tmp / "pixelgate.yaml").write_text(config(f, webhook_max_attempts=3))
        gw = start(tmp, f)  # loopback is allow-listed for these tests (tasks_env.start)
        try:
            yield gw, f, hook_base + "/hook", state
        finally:
            gw.stop()


def verify(key: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: HMAC-SHA256 keyed with sha256_hex(its API key)."""
    parts = dict(p.split("=", 1) for p in headers["x-pixelgate-signature"].split(","))
    secret = hashlib.sha256(key.encode()).hexdigest().encode()
    expected = hmac.new(secret, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected, parts["v1"])


def deliveries(state: Receiver, task_id: str, count: int) -> list[tuple[dict[str, str], bytes]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [c for c in state.calls if c[0].get("x-pixelgate-task-id") == task_id]
        if len(found) >= count:
            time.sleep(1.0)  # and no more come afterwards
            return [c for c in state.calls if c[0].get("x-pixelgate-task-id") == task_id]
        time.sleep(0.1)
    raise AssertionError(f"expected {count} deliveries for {task_id}")


def test_final_task_json_is_posted_once_and_signed(env: tuple[Any, ...]) -> None:
    gw, _, hook, state = env
    created = create(gw, {"model": "flux-pro-1.1", "prompt": "fox", "callback_url": hook})
    done = wait(gw, created["task_id"])
    calls = deliveries(state, created["task_id"], 1)
    assert len(calls) == 1
    headers, body = calls[0]
    assert verify(gw.key, headers, body)
    assert not verify("pg-someone-else", headers, body)
    sent = orjson.loads(body)
    assert sent["status"] == "completed" and sent["task_id"] == created["task_id"]
    assert sent["data"] == done["data"]  # the same signed links that polling gives
    assert httpx.get(sent["data"][0]["url"], timeout=30).status_code == 200


def test_failed_delivery_is_retried_and_failures_are_delivered(env: tuple[Any, ...]) -> None:
    gw, f, hook, state = env
    state.answers += [500, 503]
    f.bfl.outcome = "Error"
    try:
        created = create(gw, {"model": "flux-pro-1.1", "prompt": "fox", "callback_url": hook})
        wait(gw, created["task_id"])
    finally:
        f.bfl.outcome = "Ready"
    calls = deliveries(state, created["task_id"], 3)
    assert len(calls) == 3  # two refusals, then one success; nothing after it
    assert all(orjson.loads(b)["status"] == "failed" for _, b in calls)
    assert orjson.loads(calls[-1][1])["error"]["code"] == "upstream_generation_error"


def test_v2_tasks_deliver_the_v2_shape(env: tuple[Any, ...]) -> None:
    gw, _, hook, state = env
    resp = httpx.post(
        gw.base_url + "/v2/extend/image/gpt_image/generations",
        json={"prompt": "cat", "size": "32x32", "callback_url": hook},
        headers={"X-API-Key": gw.key},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["task_id"]
    (headers, body), *rest = deliveries(state, task_id, 1)
    assert not rest and verify(gw.key, headers, body)
    sent = orjson.loads(body)
    assert sent["status"] == "succeeded" and len(sent["result"]["images"]) == 1


def test_private_callback_addresses_are_refused(tmp_path: Path) -> None:
    with fakes() as f:
        (tmp_path / "pixelgate.yaml").write_text(config(f))
        gw = start(tmp_path, f, PIXELGATE_FETCH_ALLOW_NETWORKS="")
        try:
            for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/x", "ftp://a.example/x"):
                resp = httpx.post(
                    gw.base_url + "/v1/images/generations",
                    json={"model": "sandbox-image", "prompt": "x", "async": True,
                          "callback_url": url},
                    headers=gw.headers,
                )  # fmt: skip
                assert resp.status_code == 400, resp.text
                assert resp.json()["error"]["param"] == "callback_url"
            resp = httpx.post(
                gw.base_url + "/v1/images/generations",
                json={"model": "sandbox-image", "prompt": "x", "callback_url": "http://a.io/"},
                headers=gw.headers,
            )
            assert resp.status_code == 400  # callback_url needs async
        finally:
            gw.stop()
