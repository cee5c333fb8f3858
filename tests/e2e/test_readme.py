"""The README's first screen, run as printed: `make run`, then its curl and SDK snippets."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.fakes.server import free_port
from tests.support.gateway import gateway_env

ROOT = Path(__file__).resolve().parents[2]


def _blocks(lang: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_make_run_then_readme_snippets(tmp_path: Path) -> None:
    port = free_port()
    env = gateway_env(tmp_path / "data", None, PIXELGATE_PORT=str(port))
    env.pop("MAKEFLAGS", None)
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 300
        while not any("listening on" in line for line in lines):
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        key = next(line.strip() for line in lines if line.strip().startswith("pg-"))
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        curl = next(b for b in _blocks("bash") if "curl" in b)
        curl = curl.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        curl = "\n".join(line for line in curl.splitlines() if not line.startswith("export "))
        run_env = {**os.environ, "PIXELGATE_KEY": key}
        subprocess.run(["bash", "-c", curl], cwd=tmp_path, env=run_env, check=True, timeout=60)
        img = Image.open(tmp_path / "out.png")
        assert (img.format, img.size) == ("PNG", (1024, 1024))

        sdk = next(b for b in _blocks("python") if "OpenAI(" in b)
        sdk = sdk.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        subprocess.run(
            [str(ROOT / ".venv/bin/python"), "-c", sdk],
            cwd=tmp_path,
            env=run_env,
            check=True,
            timeout=60,
        )
        img = Image.open(io.BytesIO((tmp_path / "lighthouse.png").read_bytes()))
        assert (img.format, img.size) == ("PNG", (1024, 1024))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
