"""Task-based upstreams over real HTTP: the `bfl` and `midjourney` providers against their
fakes — async tasks (seed 003), sync requests that wait for the worker, the /v2 families
on task upstreams (seed 001), and every way an upstream task can end."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.e2e.tasks_env import Fakes, config, create, fakes, get, start, wait
from tests.fakes.images import image_b64
from tests.support.db import usage_rows
from tests.support.gateway import Gateway

EXTEND = """
extend_v2:
  seedream: {model: flux-kontext-pro}
  gpt_image: {model: flux-pro-1.1}
  gemini: {model: midjourney, models: {gemini-3-pro-image: flux-pro-1.1-ultra}}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Fakes]]:
    tmp: Path = tmp_path_factory.mktemp("task-upstreams")
    with fakes() as f:
        (tmp / "pixelgate.yaml").write_text(config(f) + EXTEND)
        gw = start(tmp, f)
        try:
            yield gw, f
        finally:
            gw.stop()


def image(url: str) -> Image.Image:
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    return Image.open(io.BytesIO(resp.content))


def submits(f: Fakes, model: str) -> list[Any]:
    return [r for r in f.bfl.requests if r.method == "POST" and r.path == f"/v1/{model}"]


def sync(gw: Gateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/v1/images/generations", json=body, headers=gw.headers, timeout=120
    )


def test_bfl_async_task_completes_with_our_own_link(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    before = f.bfl.submissions["flux-pro-1.1"]
    created = create(gw, {"model": "flux-pro-1.1", "prompt": "a red fox", "size": "512x256"})
    done = wait(gw, created["task_id"])
    assert done["status"] == "completed", done
    assert f.bfl.submissions["flux-pro-1.1"] == before + 1
    sent = submits(f, "flux-pro-1.1")[-1]
    assert sent.headers["x-key"] == "bfl-test-key"
    assert sent.body == {
        "prompt": "a red fox",
        "width": 512,
        "height": 256,
        "output_format": "jpeg",
    }
    upstream_ids = set(f.bfl.tasks)
    assert created["task_id"] not in upstream_ids and created["task_id"].startswith("task_")
    url = done["data"][0]["url"]
    assert url.startswith(gw.base_url + "/v1/files/")  # never the upstream's expiring link
    assert image(url).size == (512, 256)


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        (
            {"model": "flux-pro-1.1-ultra", "prompt": "p", "aspect_ratio": "21:9", "raw": True},
            {"prompt": "p", "aspect_ratio": "21:9", "raw": True, "output_format": "jpeg"},
        ),
        (
            {"model": "flux-dev", "prompt": "p", "steps": 20, "webhook_url": "https://x.io/h"},
            {"prompt": "p", "steps": 20, "width": 1024, "height": 768, "output_format": "jpeg"},
        ),
        (
            {"model": "flux-kontext-max", "prompt": "p", "output_format": "jpeg"},
            {"prompt": "p", "output_format": "jpeg"},
        ),
    ],
)
def test_bfl_models_get_their_own_fields(
    env: tuple[Gateway, Fakes], body: dict[str, Any], sent: dict[str, Any]
) -> None:
    gw, f = env
    done = wait(gw, create(gw, body)["task_id"])
    assert done["status"] == "completed", done
    assert submits(f, body["model"])[-1].body == sent


def test_kontext_edit_sends_input_images(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    refs = [{"image_url": "data:image/png;base64," + image_b64(64, 32)}] * 2
    resp = httpx.post(
        gw.base_url + "/v1/images/edits",
        json={"model": "flux-kontext-pro", "prompt": "add a hat", "images": refs, "async": True},
        headers=gw.headers,
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    done = wait(gw, resp.json()["task_id"])
    assert done["status"] == "completed", done
    body = submits(f, "flux-kontext-pro")[-1].body
    assert body["input_image"].startswith("<base64") and body["input_image_2"].startswith("<base64")
    assert image(done["data"][0]["url"]).format == "PNG"


def test_sync_request_to_bfl_waits_for_the_worker(env: tuple[Gateway, Fakes]) -> None:
    gw, _ = env
    resp = sync(gw, {"model": "flux-pro-1.1", "prompt": "fox", "size": "256x256"})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    picture = Image.open(io.BytesIO(base64.b64decode(data[0]["b64_json"])))
    assert picture.size == (256, 256) and picture.format == "JPEG"
    resp = sync(gw, {"model": "flux-pro-1.1", "prompt": "fox", "response_format": "url"})
    assert image(resp.json()["data"][0]["url"]).size == (1024, 768)


def test_midjourney_grid_with_actions(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    before = f.mj.submissions["IMAGINE"]
    created = create(gw, {"model": "midjourney", "prompt": "a pig", "aspect_ratio": "2:1"})
    done = wait(gw, created["task_id"])
    assert done["status"] == "completed", done
    assert done["actions"] == ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4"]
    assert f.mj.submissions["IMAGINE"] == before + 1
    sent = [r for r in f.mj.requests if r.path == "/mj/submit/imagine"][-1]
    assert sent.headers["mj-api-secret"] == "mj-test-secret"
    assert sent.body == {"prompt": "a pig --ar 2:1", "state": created["task_id"]}
    assert image(done["data"][0]["url"]).size == (256, 128)  # the 2x2 grid of 128x64 tiles
    resp = sync(gw, {"model": "midjourney", "prompt": "a cow", "output_format": "webp"})
    assert resp.status_code == 200, resp.text
    raw = base64.b64decode(resp.json()["data"][0]["b64_json"])
    assert Image.open(io.BytesIO(raw)).format == "WEBP"


def test_v2_families_on_task_upstreams(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    headers = {"X-API-Key": gw.key}
    cases = [
        ("/seedream/generations", {"prompt": "c", "image": [image_b64(32, 32)]},
         "/seedream/tasks/", "flux-kontext-pro"),
        ("/gpt_image/generations", {"prompt": "c", "size": "512x512", "quality": "high"},
         "/gpt_image/tasks/", "flux-pro-1.1"),
        ("/generations", {"prompt": "c", "aspect_ratio": "16:9"}, "/tasks/", "midjourney"),
        ("/generations", {"prompt": "c", "model": "gemini-3-pro-image"}, "/tasks/",
         "flux-pro-1.1-ultra"),
    ]  # fmt: skip
    for path, body, poll, model in cases:
        resp = httpx.post(
            gw.base_url + "/v2/extend/image" + path, json=body, headers=headers, timeout=60
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["model"] == model
        done = wait(gw, resp.json()["task_id"], prefix="/v2/extend/image" + poll, headers=headers)
        assert done["status"] == "succeeded", done
        assert image(done["result"]["images"][0]["url"])
    assert submits(f, "flux-kontext-pro")[-1].body["input_image"].startswith("<base64")


@pytest.mark.parametrize(
    ("outcome", "status", "code", "words"),
    [
        ("Error", 502, "upstream_generation_error", "Internal generation error"),
        ("Content Moderated", 400, "content_moderated", "Derivative Works Filter"),
        ("Request Moderated", 400, "request_moderated", "blocked the request"),
    ],
)
def test_bfl_failures_fail_the_task_once(
    env: tuple[Gateway, Fakes], outcome: str, status: int, code: str, words: str
) -> None:
    gw, f = env
    f.bfl.outcome = outcome
    try:
        created = create(gw, {"model": "flux-pro-1.1", "prompt": "x"})
        done = wait(gw, created["task_id"])
        resp = sync(gw, {"model": "flux-pro-1.1", "prompt": "x"})
    finally:
        f.bfl.outcome = "Ready"
    assert done["status"] == "failed" and done["data"] == []
    assert done["error"]["code"] == code and words in done["error"]["message"]
    rows = [r for r in usage_rows(gw) if r.request_id == created["task_id"]]
    assert [(r.status, r.error_code, r.images) for r in rows] == [(status, code, 0)]
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code


def test_expired_sample_fails_the_task(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    f.bfl.sample_ttl_seconds = 0
    try:
        done = wait(gw, create(gw, {"model": "flux-dev", "prompt": "x"})["task_id"])
    finally:
        f.bfl.sample_ttl_seconds = 600
    assert done["status"] == "failed"
    assert done["error"]["code"] == "upstream_result_unavailable"
    assert "403" in done["error"]["message"]


def test_task_unknown_upstream_fails(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    f.bfl.steps_until_ready = 10**6
    try:
        created = create(gw, {"model": "flux-pro-1.1", "prompt": "x"})
        wait(gw, created["task_id"], until=("processing",))
        f.bfl.tasks.clear()
        done = wait(gw, created["task_id"])
    finally:
        f.bfl.steps_until_ready = 2
    assert done["status"] == "failed"
    assert done["error"]["code"] == "upstream_task_not_found"


def test_midjourney_failures(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    f.mj.fail_reason = "Job action restricted"
    try:
        done = wait(gw, create(gw, {"model": "midjourney", "prompt": "x"})["task_id"])
    finally:
        f.mj.fail_reason = None
    assert done["status"] == "failed"
    assert done["error"]["code"] == "upstream_task_failed"
    assert "Job action restricted" in done["error"]["message"]
    banned = wait(gw, create(gw, {"model": "midjourney", "prompt": "a bannedword"})["task_id"])
    assert banned["error"]["code"] == "banned_prompt"
    resp = sync(gw, {"model": "midjourney", "prompt": "bannedword again"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "banned_prompt"


def test_progress_and_other_keys(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    f.mj.steps_per_task = 1000  # progress grows by 0.1% per poll
    try:
        created = create(gw, {"model": "midjourney", "prompt": "slow"})
        running = wait(gw, created["task_id"], until=("processing",))
        assert running["data"] == [] and running["error"] is None
        stranger = gw.cli("keys", "create", "--name", "other").stdout.strip().splitlines()[-1]
        other = get(gw, f"/v1/tasks/{created['task_id']}", {"Authorization": f"Bearer {stranger}"})
        assert other.status_code == 404
        deadline = time.monotonic() + 60
        while running.get("progress") in (None, 0) and time.monotonic() < deadline:
            time.sleep(0.2)
            running = get(gw, f"/v1/tasks/{created['task_id']}").json()
        assert running["status"] == "processing" and 0 < running["progress"] < 100
    finally:
        f.mj.steps_per_task = 2
    assert wait(gw, created["task_id"])["status"] == "completed"


def test_midjourney_upscale_action_is_a_new_task(env: tuple[Gateway, Fakes]) -> None:
    gw, f = env
    parent = wait(gw, create(gw, {"model": "midjourney", "prompt": "four pigs"})["task_id"])
    assert parent["status"] == "completed"
    url = f"{gw.base_url}/v1/tasks/{parent['task_id']}/actions"
    bad = httpx.post(url, json={"action": "U9"}, headers=gw.headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "action"
    before = f.mj.submissions["UPSCALE"]
    resp = httpx.post(url, json={"action": "U2"}, headers=gw.headers, timeout=60)
    assert resp.status_code == 200, resp.text
    child = resp.json()
    assert child["status"] == "pending" and child["task_id"] != parent["task_id"]
    done = wait(gw, child["task_id"])
    assert done["status"] == "completed", done
    assert f.mj.submissions["UPSCALE"] == before + 1
    sent = [r for r in f.mj.requests if r.path == "/mj/submit/action"][-1].body
    assert sent["customId"].startswith("MJ::JOB::upsample::2::")
    assert sent["state"] == child["task_id"]
    assert image(done["data"][0]["url"]).size == (128, 128)  # one tile of the grid
    stranger = gw.cli("keys", "create", "--name", "x").stdout.strip().splitlines()[-1]
    other = httpx.post(url, json={"action": "U1"}, headers={"Authorization": f"Bearer {stranger}"})
    assert other.status_code == 404
