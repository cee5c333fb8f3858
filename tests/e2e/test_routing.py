"""Routing and fallbacks (issue 8): priority tiers, weights, circuit breakers, credential
pools, timeouts, no retry of request errors or of a stream after its first byte, and the
cancellation of upstream work when the client leaves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes import openai as fake
from tests.fakes.server import serve
from tests.support.db import last_usage, usage_rows
from tests.support.gateway import Gateway, start_gateway

BAD_KEY = "sk-revoked-Qm7rT2xV9nB4"


@dataclass
class Env:
    gw: Gateway
    a: fake.OpenAIFakeState
    b: fake.OpenAIFakeState
    c: fake.OpenAIFakeState


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("routing")
    with ExitStack() as stack:
        a = fake.OpenAIFakeState(moderation_block_words={"forbidden"})
        b = fake.OpenAIFakeState()
        c = fake.OpenAIFakeState()
        urls = [stack.enter_context(serve(fake.create_app(s))) for s in (a, b, c)]
        config = tmp / "pixelgate.yaml"
        config.write_text(f"""
routing: {{failure_threshold: 2, cooldown_seconds: 1.0}}
providers:
  a: {{type: openai, base_url: "{urls[0]}/v1", api_key: sk-test,
      timeouts: {{connect: 2, read: 0.5, total: 5}}}}
  b: {{type: openai, base_url: "{urls[1]}/v1", api_key: sk-test}}
  c: {{type: openai, base_url: "{urls[2]}/v1", api_keys: [{BAD_KEY}, sk-test]}}
deployments:
  - {{model: gpt-image-1, provider: a, priority: 0}}
  - {{model: gpt-image-1, provider: b, priority: 1}}
  - {{model: split, provider: a, upstream_model: gpt-image-1, weight: 3}}
  - {{model: split, provider: b, upstream_model: gpt-image-1, weight: 1}}
  - {{model: pooled, provider: c, upstream_model: gpt-image-1}}
""")
        gw = start_gateway(tmp / "gw", None, PIXELGATE_CONFIG=str(config))
        stack.callback(gw.stop)
        yield Env(gw, a, b, c)


def gen(env: Env, model: str = "gpt-image-1", **extra: object) -> httpx.Response:
    body = {"model": model, "prompt": "x", "size": "1024x1024", **extra}
    return httpx.post(
        env.gw.base_url + "/v1/images/generations", json=body, headers=env.gw.headers, timeout=30
    )


def counts(env: Env) -> tuple[int, int]:
    return len(env.a.requests), len(env.b.requests)


def wait_closed(env: Env) -> None:
    time.sleep(1.1)  # past the cooldown: the next call to A is a half-open probe
    assert gen(env).status_code == 200


def test_retryable_failure_falls_back_to_the_next_tier(env: Env) -> None:
    a0, b0 = counts(env)
    env.a.faults.queue("status_500")
    resp = gen(env)
    assert resp.status_code == 200, resp.text
    assert counts(env) == (a0 + 1, b0 + 1)
    assert last_usage(env.gw).deployment == "b/gpt-image-1"
    resp = gen(env)
    assert resp.status_code == 200 and counts(env) == (a0 + 2, b0 + 1)  # A is first again


@pytest.mark.parametrize("fault", ["status_503", "status_429", "timeout", "malformed_json"])
def test_each_retryable_fault_is_routed_around(env: Env, fault: str) -> None:
    env.a.faults.hang_seconds = 2
    a0, b0 = counts(env)
    env.a.faults.queue(fault)
    resp = gen(env)
    assert resp.status_code == 200, resp.text
    assert counts(env) == (a0 + 1, b0 + 1)
    wait_closed(env)


def test_request_errors_are_never_retried(env: Env) -> None:
    a0, b0 = counts(env)
    resp = gen(env, prompt="forbidden")
    assert resp.status_code == 400
    assert counts(env) == (a0 + 1, b0)


def test_circuit_opens_then_recovers(env: Env) -> None:
    env.a.faults.sticky = "status_503"
    try:
        a0, b0 = counts(env)
        for _ in range(2):
            assert gen(env).status_code == 200
        assert counts(env) == (a0 + 2, b0 + 2)
        ready = httpx.get(env.gw.base_url + "/readyz").json()
        circuit = {
            d["deployment"]: d["circuit"]
            for d in ready["deployments"]
            if d["model"] == "gpt-image-1"
        }
        assert circuit["a/gpt-image-1"] == "open"
        assert gen(env).status_code == 200
        assert counts(env) == (a0 + 2, b0 + 3)  # A was not called while open
    finally:
        env.a.faults.sticky = None
    time.sleep(1.1)
    a1, b1 = counts(env)
    assert gen(env).status_code == 200
    assert counts(env) == (a1 + 1, b1)  # the half-open probe went to A and succeeded
    ready = httpx.get(env.gw.base_url + "/readyz").json()
    assert all(d["circuit"] == "closed" for d in ready["deployments"])


def test_weights_split_traffic_inside_a_tier(env: Env) -> None:
    a0, b0 = counts(env)
    for _ in range(40):
        assert gen(env, model="split").status_code == 200
    a1, b1 = counts(env)
    assert a1 - a0 + b1 - b0 == 40
    assert a1 - a0 > b1 - b0 > 0


def test_refused_credential_leaves_the_pool(env: Env) -> None:
    first = gen(env, model="pooled")
    assert first.status_code == 200, first.text
    for _ in range(3):
        assert gen(env, model="pooled").status_code == 200
    used = [r.headers["authorization"] for r in env.c.requests]
    assert used.count(f"Bearer {BAD_KEY}") == 1  # tried once, then out of rotation
    ready = httpx.get(env.gw.base_url + "/readyz")
    assert ready.json()["credentials"]["c"] == {"total": 2, "usable": 1, "refused": [0]}
    assert BAD_KEY not in ready.text
    logs = env.gw.logs()
    assert "credential #0 refused" in logs and BAD_KEY not in logs


def test_stream_is_not_retried_after_first_byte(env: Env) -> None:
    env.a.stream_error_after = 1
    a0, b0 = counts(env)
    try:
        client = openai.OpenAI(base_url=env.gw.base_url + "/v1", api_key=env.gw.key, max_retries=0)
        with pytest.raises(openai.APIError):
            list(
                client.images.generate(
                    model="gpt-image-1", prompt="x", stream=True, partial_images=2
                )
            )
    finally:
        env.a.stream_error_after = None
    assert counts(env) == (a0 + 1, b0)


def test_stream_open_failure_falls_back(env: Env) -> None:
    env.a.faults.queue("status_500")
    client = openai.OpenAI(base_url=env.gw.base_url + "/v1", api_key=env.gw.key, max_retries=0)
    events = list(
        client.images.generate(model="gpt-image-1", prompt="x", stream=True, partial_images=1)
    )
    assert [e.type for e in events][-1] == "image_generation.completed"
    assert env.b.requests[-1].json["stream"] is True
    wait_closed(env)


def test_client_disconnect_cancels_the_upstream_call(env: Env) -> None:
    env.a.faults.hang_seconds = 4
    env.a.faults.queue("timeout")
    before = len(usage_rows(env.gw))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            env.gw.base_url + "/v1/images/generations",
            json={"model": "gpt-image-1", "prompt": "x"},
            headers=env.gw.headers,
            timeout=httpx.Timeout(0.3),
        )
    deadline = started + 3  # well before the 4 s hang or A's 0.5 s read timeout + B
    row = None
    while time.monotonic() < deadline:
        rows = usage_rows(env.gw)
        if len(rows) > before:
            row = rows[-1]
            break
        time.sleep(0.05)
    assert row is not None and row.error_code == "client_closed_request", row
    assert row.status == 499


def test_slow_drip_answer_is_received_whole(env: Env) -> None:
    env.a.faults.drip_delay = 0.001
    a0, b0 = counts(env)
    env.a.faults.queue("slow_drip")
    resp = gen(env, size="1024x1024")
    assert resp.status_code == 200, resp.text
    assert counts(env) == (a0 + 1, b0)  # served by A, dripped, not retried
    assert last_usage(env.gw).deployment == "a/gpt-image-1"
