"""`pixelgate serve` with PIXELGATE_WORKERS=2: one-time start-up work runs once, workers
share the signing secret, and a clean shutdown loses no usage row."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bench.procs import tree_rss_kb
from tests.support.db import usage_rows
from tests.support.gateway import gateway_env, run_cli, start_gateway

GEN = "/v1/images/generations"


def _workers(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_two_workers_share_secret_and_flush_usage_on_shutdown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    gw = start_gateway(data, None, PIXELGATE_WORKERS="2")
    try:
        assert gw.proc is not None
        deadline = time.monotonic() + 60
        while len(_workers(gw.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_workers(gw.proc.pid)) == 2
        assert tree_rss_kb(gw.proc.pid) > 0
        # Several connections, so both workers answer; every link verifies on either.
        links = []
        for _ in range(12):
            with httpx.Client() as client:
                resp = client.post(
                    gw.base_url + GEN,
                    json={
                        "model": "sandbox-image",
                        "prompt": "x",
                        "size": "32x32",
                        "response_format": "url",
                    },
                    headers=gw.headers,
                    timeout=60,
                )
            assert resp.status_code == 200, resp.text
            links.append(resp.json()["data"][0]["url"])
        for link in links:
            with httpx.Client() as client:
                assert client.get(link).status_code == 200
        assert len((data / "secret.key").read_text().strip()) == 64
    finally:
        gw.stop()
    assert gw.proc.returncode is not None
    rows = usage_rows(gw)
    assert len([r for r in rows if r.endpoint == GEN and r.status == 200]) == 12
    # The key the test support created is the only one: no worker made a "default" key.
    listing = run_cli(gateway_env(data, None), "keys", "list").stdout
    assert listing.count("key_") == 1
