"""A gateway with billing switched on (admin key, failure deployments, extra prices) and
helpers that drive its admin API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateway import Gateway, start_gateway
from tests.support.postgres import create_database, drop_database

ADMIN = "admin-" + "b" * 32
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
GEN = "/v1/images/generations"

BILLING_CONFIG = """
providers:
  sandbox: {type: sandbox}
  broken: {type: sandbox, options: {fail: upstream_unavailable}}
  empty: {type: sandbox, options: {max_images: 0}}
  partial: {type: sandbox, options: {max_images: 1}}
deployments:
  - {model: broken-image, provider: broken, upstream_model: sandbox-image}
  - {model: empty-image, provider: empty, upstream_model: sandbox-image}
  - {model: partial-image, provider: partial, upstream_model: sandbox-image}
  - {model: flux-like, provider: sandbox, upstream_model: sandbox-image, aliases: [vendor/flux]}
  - {model: unpriced-image, provider: sandbox}
prices:
  flux-like: {mode: per_megapixel, rate: 0.03}
groups:
  partners: 0.5
"""


def start_billed(tmp: Path, database_url: str | None) -> Gateway:
    config = tmp / "pixelgate.yaml"
    config.write_text(BILLING_CONFIG)
    return start_gateway(
        tmp / "data", database_url, PIXELGATE_CONFIG=str(config), PIXELGATE_ADMIN_KEY=ADMIN
    )


def billed_fixture(request: pytest.FixtureRequest, tmp: Path) -> Iterator[Gateway]:
    url = None if request.param == "sqlite" else create_database()
    gw = start_billed(tmp, url)
    try:
        yield gw
    finally:
        gw.stop()
        if url:
            drop_database(url)


def create_key(gw: Gateway, **body: Any) -> tuple[str, dict[str, str]]:
    """Create a key through the admin API; returns its id and client headers."""
    body.setdefault("name", "t")
    resp = httpx.post(gw.base_url + "/admin/keys", json=body, headers=ADMIN_HEADERS)
    assert resp.status_code == 201, resp.text
    data = resp.json()
    return data["id"], {"Authorization": f"Bearer {data['key']}"}


def key_state(gw: Gateway, key_id: str) -> dict[str, Any]:
    resp = httpx.get(gw.base_url + f"/admin/keys/{key_id}", headers=ADMIN_HEADERS)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    balance = data["balance"]
    assert balance["available_micros"] == balance["balance_row_micros"] or data["unlimited"]
    return data


def generate(gw: Gateway, headers: dict[str, str], **body: Any) -> httpx.Response:
    body.setdefault("model", "sandbox-image")
    body.setdefault("prompt", "a billed lighthouse")
    body.setdefault("size", "64x64")
    return httpx.post(gw.base_url + GEN, json=body, headers=headers, timeout=60)


def error_code(resp: httpx.Response) -> str:
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return str(body["error"]["code"])
