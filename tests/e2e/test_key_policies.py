"""Key limits over real HTTP: expiry, disabled, IP and model allow-lists, requests per
minute and concurrency — each refused in the OpenAI error shape with the right status."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import openai
import pytest

from tests.support.admin import (
    ADMIN_HEADERS,
    GEN,
    create_key,
    error_code,
    generate,
)
from tests.support.db import last_usage
from tests.support.gateway import Gateway


def test_expired_key_is_401(billed: Gateway) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    key_id, headers = create_key(billed, unlimited=True, expires_at=past)
    resp = generate(billed, headers)
    assert resp.status_code == 401 and error_code(resp) == "key_expired"
    row = last_usage(billed)
    assert (row.key_id, row.status, row.error_code) == (key_id, 401, "key_expired")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    _, fresh = create_key(billed, unlimited=True, expires_at=future)
    assert generate(billed, fresh).status_code == 200


def test_disabled_key_is_403_until_enabled(billed: Gateway) -> None:
    key_id, headers = create_key(billed, unlimited=True, enabled=False)
    resp = generate(billed, headers)
    assert resp.status_code == 403 and error_code(resp) == "key_disabled"
    client = openai.OpenAI(
        base_url=billed.base_url + "/v1",
        api_key=headers["Authorization"].split()[1],
        max_retries=0,
    )
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()
    patched = httpx.patch(
        billed.base_url + f"/admin/keys/{key_id}", json={"enabled": True}, headers=ADMIN_HEADERS
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is True
    assert generate(billed, headers).status_code == 200


def test_ip_allow_list(billed: Gateway) -> None:
    _, headers = create_key(billed, unlimited=True, allowed_ips=["10.0.0.0/8", "2001:db8::/32"])
    refused = generate(billed, headers)
    assert refused.status_code == 403 and error_code(refused) == "ip_not_allowed"
    assert "127.0.0.1" in refused.json()["error"]["message"]
    # Behind a proxy on 127.0.0.1 (trusted by default), X-Forwarded-For names the client.
    allowed = generate(billed, {**headers, "X-Forwarded-For": "10.20.30.40"})
    assert allowed.status_code == 200
    other = generate(billed, {**headers, "X-Forwarded-For": "192.168.1.1"})
    assert other.status_code == 403


def test_model_allow_list(billed: Gateway) -> None:
    _, headers = create_key(billed, balance_micros=10_000, allowed_models=["sandbox-image"])
    assert generate(billed, headers).status_code == 200
    refused = generate(billed, headers, model="flux-like")
    assert refused.status_code == 403 and error_code(refused) == "model_not_allowed"
    assert refused.json()["error"]["param"] == "model"
    # Refused before its parameters are even looked at.
    assert generate(billed, headers, model="flux-like", n=99).status_code == 403
    listed = httpx.get(billed.base_url + "/v1/models", headers=headers).json()["data"]
    assert [m["id"] for m in listed] == ["sandbox-image"]
    one = httpx.get(billed.base_url + "/v1/models/flux-like", headers=headers)
    assert one.status_code == 403
    # A model allowed by an alias is allowed by every one of its names.
    _, by_alias = create_key(billed, balance_micros=100_000, allowed_models=["vendor/flux"])
    assert generate(billed, by_alias, model="flux-like").status_code == 200
    assert generate(billed, by_alias, model="vendor/flux").status_code == 200
    listed = httpx.get(billed.base_url + "/v1/models", headers=by_alias).json()["data"]
    assert [(m["id"], m["aliases"]) for m in listed] == [("flux-like", ["vendor/flux"])]


def test_requests_per_minute_gives_429_with_retry_after(billed: Gateway) -> None:
    _, headers = create_key(billed, unlimited=True, rpm_limit=2)
    assert [generate(billed, headers).status_code for _ in range(2)] == [200, 200]
    limited = generate(billed, headers)
    assert limited.status_code == 429 and error_code(limited) == "rate_limit_exceeded"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


def test_concurrency_limit(billed: Gateway) -> None:
    _, headers = create_key(billed, unlimited=True, concurrency_limit=1)
    body = {"model": "sandbox-image", "prompt": "slow", "size": "4096x4096"}

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=billed.base_url, timeout=60) as c:
            return await asyncio.gather(
                *(c.post(GEN, json=body, headers=headers) for _ in range(3))
            )

    codes = sorted(r.status_code for r in asyncio.run(run()))
    assert codes[0] == 200 and codes[-1] == 429, codes
    # Slots are given back: the next request goes through.
    assert generate(billed, headers).status_code == 200


def test_admin_validation(billed: Gateway) -> None:
    url = billed.base_url + "/admin/keys"
    typo = httpx.post(url, json={"name": "x", "daily_limit": 5}, headers=ADMIN_HEADERS)
    assert typo.status_code == 400 and typo.json()["error"]["param"] == "daily_limit"
    group = httpx.post(url, json={"name": "x", "group": "nobody"}, headers=ADMIN_HEADERS)
    assert group.status_code == 400 and "partners" in group.json()["error"]["message"]
    ips = httpx.post(url, json={"name": "x", "allowed_ips": ["10.0.0.300"]}, headers=ADMIN_HEADERS)
    assert ips.status_code == 400 and ips.json()["error"]["param"] == "allowed_ips"
    assert httpx.get(url + "/key_nope", headers=ADMIN_HEADERS).status_code == 404


def test_credit_is_idempotent(billed: Gateway) -> None:
    key_id, headers = create_key(billed, balance_micros=0)
    assert generate(billed, headers).status_code == 402
    url = billed.base_url + f"/admin/keys/{key_id}/credit"
    first = httpx.post(
        url, json={"amount_micros": 2_000}, headers={**ADMIN_HEADERS, "Idempotency-Key": "t-1"}
    )
    again = httpx.post(
        url, json={"amount_micros": 2_000, "idempotency_key": "t-1"}, headers=ADMIN_HEADERS
    )
    assert first.json()["credited"] is True and again.json()["duplicate"] is True
    assert again.json()["balance"]["available_micros"] == 2_000
    bad = httpx.post(url, json={"amount_micros": -5}, headers=ADMIN_HEADERS)
    assert bad.status_code == 400
    assert generate(billed, headers).status_code == 200
    listing = httpx.get(billed.base_url + "/admin/keys", headers=ADMIN_HEADERS).json()["data"]
    mine = next(k for k in listing if k["id"] == key_id)
    assert mine["balance_micros"] == 1_000 and mine["unlimited"] is False


def test_debit_takes_credit_back_never_below_zero(billed: Gateway) -> None:
    key_id, _ = create_key(billed, balance_micros=3_000)
    url = billed.base_url + f"/admin/keys/{key_id}/debit"
    first = httpx.post(
        url, json={"amount_micros": 1_000, "idempotency_key": "d-1"}, headers=ADMIN_HEADERS
    )
    again = httpx.post(
        url, json={"amount_micros": 1_000, "idempotency_key": "d-1"}, headers=ADMIN_HEADERS
    )
    assert first.status_code == 200, first.text
    assert first.json()["debited"] is True and again.json()["duplicate"] is True
    assert again.json()["balance"]["available_micros"] == 2_000
    assert again.json()["balance"]["debited_micros"] == 1_000
    too_much = httpx.post(url, json={"amount_micros": 5_000}, headers=ADMIN_HEADERS)
    assert too_much.status_code == 402, too_much.text
    after = httpx.get(billed.base_url + f"/admin/keys/{key_id}", headers=ADMIN_HEADERS).json()
    assert after["balance"]["available_micros"] == 2_000
    anon = httpx.post(url, json={"amount_micros": 1})
    assert anon.status_code == 401
