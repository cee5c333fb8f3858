"""What the console's HTTP tests share: signing in, CSRF tokens, keys, the playground."""

from __future__ import annotations

import json
import re

import httpx

from tests.support.gateway import Gateway


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(
        r'data-csrf="([^"]+)"', html
    )
    assert found, html[:2000]
    return found.group(1)


def sign_in(gw: Gateway, key: str) -> httpx.Client:
    client = httpx.Client(base_url=gw.base_url, timeout=60)
    page = client.get("/console/login")
    resp = client.post("/console/login", data={"key": key, "csrf": csrf_of(page.text)})
    assert resp.status_code == 303, resp.text
    return client


def create_key(admin: httpx.Client, name: str) -> tuple[str, str]:
    page = admin.get("/console/keys")
    resp = admin.post("/console/keys", data={"name": name, "csrf": csrf_of(page.text)})
    assert resp.status_code == 200
    secret = re.search(r'id="new-key"[^>]*value="(pg-[^"]+)"', resp.text)
    assert secret, resp.text[:3000]
    key_id = re.search(r'data-key-id="(key_[0-9a-f]+)"', resp.text)
    assert key_id
    return key_id.group(1), secret.group(1)


def run_playground(
    client: httpx.Client, body: dict[str, object], key_id: str = "", **files: bytes
) -> httpx.Response:
    page = client.get("/console/playground")
    operation = "edit" if files else "generate"
    uploads = [(name, (f"{name}.png", data, "image/png")) for name, data in files.items()]
    return client.post(
        "/console/playground/run",
        data={"operation": operation, "body": json.dumps(body), "key_id": key_id},
        files=uploads or None,
        headers={"X-CSRF-Token": csrf_of(page.text)},
    )
