"""Admin key endpoints, guarded by PIXELGATE_ADMIN_KEY."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.gateway import start_gateway

ADMIN = "admin-" + "x" * 32


def test_admin_keys_lifecycle(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", None, PIXELGATE_ADMIN_KEY=ADMIN)
    try:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        assert httpx.get(gw.base_url + "/admin/keys").status_code == 401
        assert httpx.get(gw.base_url + "/admin/keys", headers=gw.headers).status_code == 401
        created = httpx.post(gw.base_url + "/admin/keys", json={"name": "bob"}, headers=admin)
        assert created.status_code == 201
        body = created.json()
        secret, key_id = body["key"], body["id"]
        listing = httpx.get(gw.base_url + "/admin/keys", headers=admin).json()["data"]
        assert any(k["id"] == key_id and not k["revoked"] for k in listing)
        assert secret not in str(listing)
        ok = httpx.get(gw.base_url + "/v1/models", headers={"X-API-Key": secret})
        assert ok.status_code == 200
        bad = httpx.post(gw.base_url + "/admin/keys", json={"name": ""}, headers=admin)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "name"
        gone = httpx.delete(gw.base_url + f"/admin/keys/{key_id}", headers=admin)
        assert gone.status_code == 200
        again = httpx.delete(gw.base_url + f"/admin/keys/{key_id}", headers=admin)
        assert again.status_code == 404
        refused = httpx.get(gw.base_url + "/v1/models", headers={"X-API-Key": secret})
        assert refused.status_code == 401
    finally:
        gw.stop()


def test_admin_disabled_without_admin_key(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path / "data", None)
    try:
        resp = httpx.get(gw.base_url + "/admin/keys", headers={"Authorization": "Bearer x"})
        assert resp.status_code == 403
    finally:
        gw.stop()
