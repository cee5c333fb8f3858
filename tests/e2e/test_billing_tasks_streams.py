"""Tasks and streams settle through the same ledger as sync requests: an async task reserves
at creation and is charged on completion or released on failure; a stream is charged for the
images it delivered; a chat completion is billed like the image it returns."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai

from tests.support.admin import create_key, key_state
from tests.support.db import usage_rows
from tests.support.gateway import Gateway

TIER_1K = 1_000  # the sandbox's shipped price per 1K image, in micro-units


def wait_task(gw: Gateway, headers: dict[str, str], task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(
            gw.base_url + f"/v1/tasks/{task_id}", headers=headers
        ).json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish")


def test_async_task_is_reserved_then_charged(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=5 * TIER_1K)
    created = httpx.post(
        billed.base_url + "/v1/images/generations",
        json={"model": "sandbox-image", "prompt": "later", "size": "64x64", "n": 2, "async": True},
        headers=headers,
    )
    assert created.status_code == 200, created.text
    done = wait_task(billed, headers, created.json()["task_id"])
    assert done["status"] == "completed" and len(done["data"]) == 2
    balance = key_state(billed, key_id)["balance"]
    assert balance["spent_micros"] == 2 * TIER_1K and balance["reserved_micros"] == 0
    assert balance["available_micros"] == 3 * TIER_1K
    task_row = next(r for r in usage_rows(billed) if r.request_id == created.json()["task_id"])
    assert task_row.cost == 2 * TIER_1K and task_row.images == 2


def test_async_task_over_the_balance_is_refused_at_creation(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=TIER_1K)
    created = httpx.post(
        billed.base_url + "/v1/images/generations",
        json={"model": "sandbox-image", "prompt": "x", "size": "64x64", "n": 2, "async": True},
        headers=headers,
    )
    assert created.status_code == 402
    assert created.json()["error"]["code"] == "insufficient_quota"
    assert key_state(billed, key_id)["balance"]["available_micros"] == TIER_1K


def test_failed_task_is_released(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=5 * TIER_1K)
    created = httpx.post(
        billed.base_url + "/v1/images/generations",
        json={"model": "broken-image", "prompt": "x", "size": "64x64", "async": True},
        headers=headers,
    )
    assert created.status_code == 200, created.text
    done = wait_task(billed, headers, created.json()["task_id"])
    assert done["status"] == "failed"
    balance = key_state(billed, key_id)["balance"]
    assert balance == {
        "credited_micros": 5 * TIER_1K,
        "debited_micros": 0,
        "spent_micros": 0,
        "reserved_micros": 0,
        "available_micros": 5 * TIER_1K,
        "balance_row_micros": 5 * TIER_1K,
    }


def test_streamed_images_are_charged(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=10 * TIER_1K)
    key = headers["Authorization"].removeprefix("Bearer ")
    client = openai.OpenAI(base_url=billed.base_url + "/v1", api_key=key, max_retries=0)
    events = list(
        client.images.generate(
            model="sandbox-image", prompt="s", size="64x64", n=3, stream=True, partial_images=1
        )
    )
    assert sum(e.type == "image_generation.completed" for e in events) == 3
    balance = key_state(billed, key_id)["balance"]
    assert balance["spent_micros"] == 3 * TIER_1K and balance["reserved_micros"] == 0


def test_chat_completion_image_is_charged(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=10 * TIER_1K)
    key = headers["Authorization"].removeprefix("Bearer ")
    client = openai.OpenAI(base_url=billed.base_url + "/v1", api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model="sandbox-image", messages=[{"role": "user", "content": "draw a boat"}]
    )
    assert "data:image/" in (answer.choices[0].message.content or "")
    balance = key_state(billed, key_id)["balance"]
    assert balance["spent_micros"] == TIER_1K and balance["reserved_micros"] == 0
