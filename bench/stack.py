"""The processes a benchmark talks to: fake upstreams, pixelgate gateways, LiteLLM's proxy.

Every one is a real process on a free loopback port, started in its own process group so
`Proc.stop` ends it with all its workers.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Proc, free_port, start

__all__ = [
    "FAST_MODEL",
    "SLOW_MODEL",
    "Service",
    "start_fake",
    "start_gateway",
    "start_litellm",
]

# Catalog models the gateway routes to the fast and the slow fake.
FAST_MODEL = "gpt-image-1"
SLOW_MODEL = "gpt-image-1-mini"
UPSTREAM_KEY = "sk-bench-upstream"
STARTED = "Application startup complete."


@dataclass
class Service:
    proc: Proc
    base_url: str
    key: str

    @property
    def generations(self) -> str:
        return self.base_url + "/v1/images/generations"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIXELGATE_", "LITELLM_"))}
    env.update(extra)
    return env


def start_fake(name: str, work: Path, delay: float = 0.0, b64_bytes: int = 0) -> Service:
    port = free_port()
    argv = [sys.executable, "-m", "bench.fake_upstream", "--port", str(port)]
    argv += ["--delay", str(delay)]
    if b64_bytes:
        argv += ["--b64-bytes", str(b64_bytes)]
    proc = start(name, argv, _env(), work)
    service = Service(proc, f"http://127.0.0.1:{port}", UPSTREAM_KEY)
    proc.wait_http(service.base_url + "/healthz", timeout=60)
    return service


def _gateway_config(fast: Service, slow: Service | None) -> str:
    lines = [
        "providers:",
        "  fast:",
        "    type: openai_compatible",
        f"    base_url: {fast.base_url}/v1",
        f"    api_key: {UPSTREAM_KEY}",
    ]
    deployments = [f"  - {{model: {FAST_MODEL}, provider: fast}}"]
    if slow is not None:
        lines += [
            "  slow:",
            "    type: openai_compatible",
            f"    base_url: {slow.base_url}/v1",
            f"    api_key: {UPSTREAM_KEY}",
        ]
        slow_dep = f"{{model: {SLOW_MODEL}, provider: slow, upstream_model: {FAST_MODEL}}}"
        deployments.append(f"  - {slow_dep}")
    return "\n".join([*lines, "deployments:", *deployments, ""])


def start_gateway(
    name: str, work: Path, fast: Service, slow: Service | None, **settings: str
) -> Service:
    """`pixelgate migrate`, `keys create`, then `pixelgate serve` with PIXELGATE_<settings>."""
    data = work / name
    data.mkdir(parents=True, exist_ok=True)
    config = data / "pixelgate.yaml"
    config.write_text(_gateway_config(fast, slow))
    port = free_port()
    env = _env(
        PIXELGATE_DATA_DIR=str(data),
        PIXELGATE_CONFIG=str(config),
        PIXELGATE_PORT=str(port),
        # info, for uvicorn's one "startup complete" line per worker (no access log).
        PIXELGATE_LOG_LEVEL="info",
        # The measured configuration trusts a key lookup for 0.25 s (the default is 0).
        PIXELGATE_KEY_CACHE_SECONDS="0.25",
        **{f"PIXELGATE_{k.upper()}": v for k, v in settings.items()},
    )
    cli = [sys.executable, "-m", "pixelgate.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*cli, "keys", "create", "--name", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    proc = start(name, [*cli, "serve"], env, work)
    service = Service(proc, f"http://127.0.0.1:{port}", key)
    proc.wait_http(service.base_url + "/healthz", timeout=120)
    proc.wait_log(STARTED, int(settings.get("workers", "1")), timeout=120)
    return service


def start_litellm(litellm: Path, work: Path, fast: Service, workers: int) -> Service:
    """LiteLLM's proxy with the fast fake as an OpenAI-compatible image model (its
    `openai/` provider with `api_base`, `model_info.mode: image_generation`)."""
    master = "sk-bench-" + secrets.token_hex(16)
    config = work / "litellm.yaml"
    config.write_text(
        f"""model_list:
  - model_name: {FAST_MODEL}
    litellm_params:
      model: openai/{FAST_MODEL}
      api_base: {fast.base_url}/v1
      api_key: {UPSTREAM_KEY}
    model_info:
      mode: image_generation
litellm_settings:
  telemetry: false
general_settings:
  master_key: {master}
"""
    )
    port = free_port()
    argv = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--num_workers", str(workers), "--timeout_worker_healthcheck", "120"]
    # The bundled model cost map, not a download at start-up.
    env = _env(LITELLM_LOCAL_MODEL_COST_MAP="True")
    proc = start("litellm", argv, env, work)
    service = Service(proc, f"http://127.0.0.1:{port}", master)
    proc.wait_http(service.base_url + "/health/liveliness", timeout=300)
    proc.wait_log(STARTED, workers, timeout=300)
    return service
