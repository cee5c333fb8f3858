"""The `pixelgate` command line and the YAML configuration, run as real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.server import free_port
from tests.support.gateway import gateway_env, run_cli, start_gateway


def wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("gateway did not become healthy")


def serve_once(env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixelgate.cli", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("yaml_text", "key", "problem"),
    [
        ("providers: [1, 2", "(top level)", "not valid YAML"),
        (
            "providers:\n  up:\n    type: warp-drive\n",
            "providers.up.type",
            "unknown provider type 'warp-drive'",
        ),
        (
            "providers:\n  up:\n    type: sandbox\n    api_key: ${PG_TEST_UNSET_VAR}\n",
            "providers.up.api_key",
            "PG_TEST_UNSET_VAR is not set",
        ),
        (
            "deployments:\n  - model: m\n    provider: missing\n",
            "deployments[0].provider",
            "no provider named 'missing'",
        ),
        ("defaults:\n  response_format: jpeg\n", "defaults.response_format", "Input should be"),
        ("defaults:\n  url_ttl_seconds: -5\n", "defaults.url_ttl_seconds", "greater than 0"),
        (
            "providers:\n  up:\n    type: sandbox\n    base_url: ftp://x\n",
            "providers.up.base_url",
            "http",
        ),
        ("surprise: true\n", "surprise", "Extra inputs are not permitted"),
    ],
)
def test_bad_config_stops_the_start(tmp_path: Path, yaml_text: str, key: str, problem: str) -> None:
    config = tmp_path / "pixelgate.yaml"
    config.write_text(yaml_text)
    env = gateway_env(
        tmp_path / "data", None, PIXELGATE_CONFIG=str(config), PIXELGATE_PORT=str(free_port())
    )
    run_cli(env, "migrate")
    result = serve_once(env)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert str(config) in message, message
    assert key in message, message
    assert problem in message, message


def test_config_declares_deployments_with_env_refs_and_aliases(tmp_path: Path) -> None:
    config = tmp_path / "pixelgate.yaml"
    config.write_text(
        "defaults:\n"
        "  response_format: url\n"
        "  url_ttl_seconds: 3600\n"
        "providers:\n"
        "  local:\n"
        "    type: sandbox\n"
        "    api_key: ${PG_TEST_SECRET}\n"
        "deployments:\n"
        "  - model: house-style\n"
        "    provider: local\n"
        "    upstream_model: sandbox-image\n"
        "    aliases: [brand/house-style-v1]\n"
    )
    gw = start_gateway(
        tmp_path / "data", None, PIXELGATE_CONFIG=str(config), PG_TEST_SECRET="s3cr3t-value"
    )
    try:
        client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=gw.key, max_retries=0)
        ids = {m.id for m in client.models.list().data}
        assert ids == {"house-style", "sandbox-image"}
        result = client.images.generate(model="brand/house-style-v1", prompt="x", size="64x64")
        assert result.data and result.data[0].url and result.data[0].b64_json is None
        exp = int(result.data[0].url.split("exp=")[1].split("&")[0])
        assert 3500 < exp - time.time() <= 3600
        assert "s3cr3t-value" not in gw.logs()
    finally:
        gw.stop()


def test_first_start_creates_and_prints_one_key(tmp_path: Path) -> None:
    port = free_port()
    env = gateway_env(tmp_path / "data", None, PIXELGATE_PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelgate.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        while not any("listening on" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        keys = [line.strip() for line in lines if line.strip().startswith("pg-")]
        assert len(keys) == 1
        wait_healthy(port)
        resp = httpx.get(
            f"http://127.0.0.1:{port}/v1/models",
            headers={"Authorization": f"Bearer {keys[0]}"},
            timeout=5,
        )
        assert resp.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    second = subprocess.Popen(
        [sys.executable, "-m", "pixelgate.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out: list[str] = []
        assert second.stdout is not None
        while not any("listening on" in line for line in out):
            line = second.stdout.readline()
            assert line, "".join(out)
            out.append(line)
        assert not any(line.strip().startswith("pg-") for line in out)
    finally:
        second.terminate()
        second.wait(timeout=10)


def test_keys_create_prints_key_last(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "data", None)
    out = run_cli(env, "keys", "create", "--name", "ci").stdout.strip().splitlines()
    assert out[-1].startswith("pg-") and len(out[-1]) > 30
    listing = run_cli(env, "keys", "list").stdout
    assert "ci" in listing and out[-1] not in listing
    missing = run_cli(env, "keys", "revoke", "key_doesnotexist", check=False)
    assert missing.returncode == 1 and "No active key" in missing.stderr
