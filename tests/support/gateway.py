"""Run the real gateway as a separate process for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.fakes.server import free_port


@dataclass
class Gateway:
    base_url: str
    key: str
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, *args, check=check)

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_cli(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixelgate.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def gateway_env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELGATE_")}
    env["PIXELGATE_DATA_DIR"] = str(data_dir)
    env["PIXELGATE_LOG_LEVEL"] = "warning"
    if database_url:
        env["PIXELGATE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def start_gateway(
    data_dir: Path, database_url: str | None, log_name: str = "gateway.log", **extra: str
) -> Gateway:
    """Migrate, create a key through the CLI, start `pixelgate serve`, wait for /healthz.
    Several processes may share one data dir (and so one image store) with distinct logs."""
    port = free_port()
    env = gateway_env(data_dir, database_url, PIXELGATE_PORT=str(port), **extra)
    data_dir.mkdir(parents=True, exist_ok=True)
    run_cli(env, "migrate")
    key = run_cli(env, "keys", "create", "--name", "tests").stdout.strip().splitlines()[-1]
    log_path = data_dir / log_name
    log = open(log_path, "wb")  # noqa: SIM115 - owned by the process for its lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelgate.cli", "serve"], env=env, stdout=log, stderr=log
    )
    gw = Gateway(f"http://127.0.0.1:{port}", key, data_dir, env, proc, log_path)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited early:\n{gw.logs()}")
        try:
            if httpx.get(gw.base_url + "/healthz", timeout=1).status_code == 200:
                return gw
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            gw.stop()
            raise RuntimeError(f"gateway did not become healthy:\n{gw.logs()}")
        time.sleep(0.1)
