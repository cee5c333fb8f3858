"""`Idempotency-Key` (issue 8 item 5): a repeat returns the first result (waiting while it
runs) and reaches the upstream once; the same key with another body is a 409."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import openai as fake
from tests.fakes.server import serve
from tests.support.db import usage_rows
from tests.support.gateway import Gateway, start_gateway

GEN = "/v1/images/generations"


def post(gw: Gateway, body: dict[str, Any], key: str) -> httpx.Response:
    return httpx.post(
        gw.base_url + GEN,
        json=body,
        headers={**gw.headers, "Idempotency-Key": key},
        timeout=30,
    )


def test_repeat_returns_first_result(gateway: Gateway) -> None:
    body = {"model": "sandbox-image", "prompt": "once", "size": "64x64", "n": 2}
    first = post(gateway, body, "k-repeat-1")
    second = post(gateway, body, "k-repeat-1")
    assert first.status_code == second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["data"] == first.json()["data"]
    rows = [
        r
        for r in usage_rows(gateway)
        if r.request_id in (first.headers["x-request-id"], second.headers["x-request-id"])
    ]
    assert sorted(r.images for r in rows) == [0, 2]  # produced (and billable) once


def test_url_answers_replay_the_same_links(gateway: Gateway) -> None:
    body = {"model": "sandbox-image", "prompt": "links", "size": "64x64", "response_format": "url"}
    first = post(gateway, body, "k-url")
    second = post(gateway, body, "k-url")
    assert first.json()["data"] == second.json()["data"]


def test_same_key_other_body_is_409(gateway: Gateway) -> None:
    body = {"model": "sandbox-image", "prompt": "a", "size": "64x64"}
    assert post(gateway, body, "k-conflict").status_code == 200
    other = post(gateway, {**body, "prompt": "b"}, "k-conflict")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "conflict"


def test_keys_are_per_client_key(gateway: Gateway) -> None:
    created = gateway.cli("keys", "create", "--name", "idem-other").stdout.strip().splitlines()
    other = Gateway(gateway.base_url, created[-1], gateway.data_dir, gateway.env)
    body = {"model": "sandbox-image", "prompt": "mine", "size": "64x64"}
    assert post(gateway, body, "k-shared").status_code == 200
    resp = post(other, {**body, "prompt": "theirs"}, "k-shared")
    assert resp.status_code == 200 and "idempotent-replayed" not in resp.headers


@pytest.fixture(scope="module")
def slow_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Gateway, fake.OpenAIFakeState]]:
    tmp: Path = tmp_path_factory.mktemp("idem")
    state = fake.OpenAIFakeState()
    with serve(fake.create_app(state)) as url:
        config = tmp / "pixelgate.yaml"
        config.write_text(
            f"providers:\n  oa: {{type: openai, base_url: '{url}/v1', api_key: sk-test}}\n"
            "deployments:\n  - {model: gpt-image-1, provider: oa}\n"
        )
        gw = start_gateway(tmp / "gw", None, PIXELGATE_CONFIG=str(config))
        yield gw, state
        gw.stop()


def test_concurrent_repeats_reach_the_upstream_once(
    slow_env: tuple[Gateway, fake.OpenAIFakeState],
) -> None:
    gw, state = slow_env
    state.faults.hang_seconds = 1.0
    state.faults.queue("timeout")  # the first call answers after a 1 s pause
    before = len(state.requests)
    body = {"model": "gpt-image-1", "prompt": "together", "size": "1024x1024"}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(gw, body, "k-concurrent"), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["data"][0]["b64_json"] for a in answers}) == 1
    assert len(state.requests) == before + 1


def test_failed_first_attempt_can_be_retried(
    slow_env: tuple[Gateway, fake.OpenAIFakeState],
) -> None:
    gw, state = slow_env
    body = {"model": "gpt-image-1", "prompt": "retry me", "size": "1024x1024"}
    state.faults.queue("status_500")
    assert post(gw, body, "k-retry").status_code == 502
    again = post(gw, body, "k-retry")
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers


def test_task_creation_is_idempotent(gateway: Gateway) -> None:
    headers = {**gateway.headers, "Idempotency-Key": "k-task-v2"}
    body = {"prompt": "one task only", "size": "1024x1024"}
    url = gateway.base_url + "/v2/extend/image/gpt_image/generations"
    first = httpx.post(url, json=body, headers=headers, timeout=30)
    second = httpx.post(url, json=body, headers=headers, timeout=30)
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["task_id"] == second.json()["task_id"]
    other = httpx.post(url, json={**body, "prompt": "another"}, headers=headers, timeout=30)
    assert other.status_code == 409
    v1 = {"model": "sandbox-image", "prompt": "async once", "size": "64x64", "async": True}
    a = post(gateway, v1, "k-task-v1")
    b = post(gateway, v1, "k-task-v1")
    assert a.json()["task_id"] == b.json()["task_id"]
