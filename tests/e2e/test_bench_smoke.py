"""Smoke test of bench/: the load generator runs ~2 s against the fast fake, directly and
through a real gateway, and reports sane numbers. No timing assertions (DESIGN §5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from bench.fake_upstream import FakeUpstream
from bench.procs import tree_rss_kb
from tests.fakes.server import serve
from tests.support.gateway import start_gateway

ROOT = Path(__file__).resolve().parents[2]
BODY = {"model": "gpt-image-1", "prompt": "a lighthouse", "size": "1024x1024"}


def _load(url: str, key: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--url",
            url + "/v1/images/generations",
            "--header",
            f"Authorization: Bearer {key}",
            "--body",
            orjson.dumps(BODY).decode(),
            "--concurrency",
            "4",
            "--warmup",
            "0.5",
            "--duration",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    summary: dict[str, Any] = orjson.loads(done.stdout)
    return summary


def _sane(summary: dict[str, Any]) -> None:
    assert summary["ok"] > 0 and summary["failed"] == 0, summary
    assert summary["rps"] > 0 and summary["seconds"] > 0
    assert 0 < summary["p50_ms"] <= summary["p90_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    # Every success carried the whole answer (one ~64 KB image each).
    assert summary["bytes"] >= summary["ok"] * 64_000


def test_loadgen_direct_and_through_the_gateway(tmp_path: Path) -> None:
    fake = FakeUpstream(b64_bytes=64_000)
    with serve(fake) as upstream:
        direct = _load(upstream, "sk-bench")
        _sane(direct)
        config = tmp_path / "pixelgate.yaml"
        config.write_text(
            "providers:\n  fake: {type: openai_compatible, "
            f"base_url: '{upstream}/v1', api_key: sk-bench}}\n"
            "deployments:\n  - {model: gpt-image-1, provider: fake}\n"
        )
        gw = start_gateway(tmp_path / "data", None, PIXELGATE_CONFIG=str(config))
        try:
            assert gw.proc is not None and tree_rss_kb(gw.proc.pid) > 0
            through = _load(gw.base_url, gw.key)
            _sane(through)
        finally:
            gw.stop()
    assert fake.requests >= direct["ok"] + through["ok"]
