"""What the console's HTTP tests share: signing in, CSRF tokens, keys, the playground."""

from __future__ import annotations

import json
import re
import subprocess
import sys

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


def start_worker(gw: Gateway, log_name: str = "worker.log") -> subprocess.Popen[bytes]:
    """`pixelgate worker` on the gateway's database and data dir (for a gateway started with
    PIXELGATE_RUN_WORKER=false, whose tasks wait until a worker runs)."""
    log = open(gw.data_dir / log_name, "wb")  # noqa: SIM115 - owned by the process
    return subprocess.Popen(
        [sys.executable, "-m", "pixelgate.cli", "worker"], env=gw.env, stdout=log, stderr=log
    )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def submit_task(gw: Gateway, secret: str, prompt: str, **body: object) -> str:
    """An async sandbox generation through the API; returns its task id."""
    resp = httpx.post(
        gw.base_url + "/v1/images/generations",
        headers={"Authorization": f"Bearer {secret}"},
        json={"model": "sandbox-image", "prompt": prompt, "size": "64x64", "async": True, **body},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["task_id"]
    assert isinstance(task_id, str)
    return task_id
