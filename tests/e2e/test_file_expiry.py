"""Signed links expire and the periodic job purges expired files from disk and database."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.db import file_count
from tests.support.gateway import start_gateway


def test_links_expire_and_files_are_purged(tmp_path: Path) -> None:
    config = tmp_path / "pixelgate.yaml"
    config.write_text("defaults:\n  url_ttl_seconds: 3\n")
    gw = start_gateway(
        tmp_path / "data",
        None,
        PIXELGATE_CONFIG=str(config),
        PIXELGATE_PURGE_INTERVAL_SECONDS="0.5",
    )
    try:
        resp = httpx.post(
            gw.base_url + "/v1/images/generations",
            json={
                "model": "sandbox-image",
                "prompt": "x",
                "size": "64x64",
                "response_format": "url",
            },
            headers=gw.headers,
        )
        assert resp.status_code == 200, resp.text
        url = resp.json()["data"][0]["url"]
        assert httpx.get(url).status_code == 200
        images = list((tmp_path / "data" / "images").rglob("*.png"))
        assert len(images) == 1
        deadline = time.monotonic() + 10
        while file_count(gw) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert file_count(gw) == 0
        assert not images[0].exists()
        assert httpx.get(url).status_code == 403
    finally:
        gw.stop()
