"""Every image billed right, nothing overdrawn: real concurrent HTTP against a real gateway
on SQLite and PostgreSQL, failures refunded, partial answers charged for what came back."""

from __future__ import annotations

import asyncio
import base64
import io

import httpx
from PIL import Image

from tests.fakes.images import image_bytes
from tests.support.admin import (
    GEN,
    create_key,
    error_code,
    generate,
    key_state,
)
from tests.support.db import usage_rows
from tests.support.gateway import Gateway


def rows_of(gw: Gateway, key_id: str) -> list[object]:
    return [r for r in usage_rows(gw) if r.key_id == key_id]


def test_fifty_parallel_requests_never_overdraw(billed: Gateway) -> None:
    # The sandbox's 1K tier costs 1,000 micro-units: the balance covers exactly 10 images.
    key_id, headers = create_key(billed, balance_micros=10_000)
    body = {"model": "sandbox-image", "prompt": "race", "size": "64x64"}

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=billed.base_url, limits=limits, timeout=60) as c:
            return await asyncio.gather(
                *(c.post(GEN, json=body, headers=headers) for _ in range(50))
            )

    responses = asyncio.run(run())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [402] * 40
    refused = [r for r in responses if r.status_code == 402]
    assert all(error_code(r) == "insufficient_quota" for r in refused)
    assert all(r.json()["error"]["type"] == "insufficient_quota" for r in refused)
    state = key_state(billed, key_id)
    balance = state["balance"]
    assert balance == {
        "credited_micros": 10_000,
        "debited_micros": 0,
        "spent_micros": 10_000,
        "reserved_micros": 0,
        "available_micros": 0,
        "balance_row_micros": 0,
    }
    rows = rows_of(billed, key_id)
    assert len(rows) == 50
    assert sum(r.cost for r in rows) == 10_000  # type: ignore[attr-defined]
    assert sorted(r.status for r in rows if r.cost) == [200] * 10  # type: ignore[attr-defined]


def test_failures_are_refunded_and_partial_answers_charged_by_delivery(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=5_000)

    # The upstream fails after the reservation: everything goes back.
    failed = generate(billed, headers, model="broken-image", n=2)
    assert failed.status_code == 503 and error_code(failed) == "upstream_unavailable"
    assert key_state(billed, key_id)["balance"]["available_micros"] == 5_000

    # The upstream answers with no image: post-processing refuses it, nothing is charged.
    empty = generate(billed, headers, model="empty-image")
    assert empty.status_code == 502 and error_code(empty) == "upstream_bad_response"

    # Three asked, one returned: one image charged, the rest of the hold released.
    partial = generate(billed, headers, model="partial-image", n=3)
    assert partial.status_code == 200 and len(partial.json()["data"]) == 1

    # An edit without a size: the worst case (4K, 4,000) is held, the 1K result charged.
    source = image_bytes(300, 200)
    edit = httpx.post(
        billed.base_url + "/v1/images/edits",
        headers=headers,
        files={"image": ("in.png", source, "image/png")},
        data={"model": "sandbox-image", "prompt": "add a moon"},
        timeout=60,
    )
    assert edit.status_code == 200, edit.text
    img = Image.open(io.BytesIO(base64.b64decode(edit.json()["data"][0]["b64_json"])))
    assert img.size == (300, 200)

    rows = rows_of(billed, key_id)
    summary = [(r.model, r.status, r.reserved, r.cost) for r in rows]  # type: ignore[attr-defined]
    assert summary == [
        ("broken-image", 503, 2_000, 0),
        ("empty-image", 502, 1_000, 0),
        ("partial-image", 200, 3_000, 1_000),
        ("sandbox-image", 200, 4_000, 1_000),
    ]
    state = key_state(billed, key_id)["balance"]
    charged = sum(r.cost for r in rows)  # type: ignore[attr-defined]
    assert state["available_micros"] == 5_000 - charged == 3_000
    assert state["spent_micros"] == charged and state["reserved_micros"] == 0


def test_a_request_over_the_balance_is_refused_whole(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=1_500)
    resp = generate(billed, headers, n=2)
    assert resp.status_code == 402 and error_code(resp) == "insufficient_quota"
    assert "0.001500" in resp.json()["error"]["message"]
    assert generate(billed, headers).status_code == 200
    assert key_state(billed, key_id)["balance"]["available_micros"] == 500
    assert rows_of(billed, key_id)[0].reserved == 0  # type: ignore[attr-defined]


def test_group_multiplier_and_daily_spend_limit(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=1_000, group="partners")
    assert generate(billed, headers).status_code == 200
    row = rows_of(billed, key_id)[-1]
    assert row.cost == 500 and row.price_detail["multiplier"] == "1/2"  # type: ignore[attr-defined]

    capped_id, capped = create_key(billed, unlimited=True, daily_limit_micros=1_500)
    assert generate(billed, capped).status_code == 200
    over = generate(billed, capped)
    assert over.status_code == 402 and error_code(over) == "spend_limit_exceeded"
    assert "daily" in over.json()["error"]["message"]
    assert key_state(billed, capped_id)["balance"]["spent_micros"] == 1_000


def test_unpriced_models_are_never_free_for_metered_keys(billed: Gateway) -> None:
    _, metered = create_key(billed, balance_micros=1_000_000)
    refused = generate(billed, metered, model="unpriced-image")
    assert refused.status_code == 403 and error_code(refused) == "model_not_priced"
    # An unlimited key (here the CLI's) may use it; the row says it was unpriced.
    ok = generate(billed, billed.headers, model="unpriced-image")
    assert ok.status_code == 200
    row = usage_rows(billed)[-1]
    assert (row.price_mode, row.cost) == ("unpriced", 0)


def test_megapixel_price_on_a_real_request(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=100_000)
    resp = generate(billed, headers, model="flux-like", size="1000x500", n=2)
    assert resp.status_code == 200
    row = rows_of(billed, key_id)[-1]
    # 2 * 500,000 px * 30,000 micros per 1,000,000 px = 30,000.
    assert (row.cost, row.reserved, row.price_mode) == (30_000, 30_000, "per_megapixel")  # type: ignore[attr-defined]
    assert key_state(billed, key_id)["balance"]["available_micros"] == 70_000
