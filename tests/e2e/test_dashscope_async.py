"""DashScope's async Wan models (issue 5 item 1, issue 6 item 5) over real HTTP: submitted
once by the task worker, polled by it (never inside a request), results stored at once —
through `async: true` (seed 003), a sync request that waits for the worker, DashScope's own
task API and the official `dashscope` SDK's `ImageSynthesis` (call, async_call, fetch, wait),
on the DashScope fake and on the sandbox."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dashscope as dashscope_sdk
import httpx
import pytest
from dashscope import ImageSynthesis
from PIL import Image

from tests.e2e.tasks_env import FAST, create, get, wait
from tests.fakes import dashscope
from tests.fakes.dashscope_media import RecordedRequest
from tests.fakes.server import serve
from tests.support.db import usage_rows
from tests.support.gateway import Gateway, start_gateway

T2I = "/api/v1/services/aigc/text2image/image-synthesis"
I2I = "/api/v1/services/aigc/image2image/image-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}


@dataclass
class Env:
    gw: Gateway
    ds: dashscope.DashScopeFakeState
    ds_url: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("dsasync")
    with ExitStack() as stack:
        ds = dashscope.DashScopeFakeState()
        ds_url = stack.enter_context(serve(dashscope.create_app(ds)))
        settings = ", ".join(f"{k}: {v}" for k, v in FAST.items())
        models = (
            "wan2.5-t2i-preview",
            "wanx2.1-t2i-turbo",
            "wanx2.1-imageedit",
            "wan2.5-i2i-preview",
        )
        deployments = "\n".join(f"  - {{model: {m}, provider: ds}}" for m in models)
        path = tmp / "pixelgate.yaml"
        path.write_text(f"""
routing: {{failure_threshold: 1000}}
tasks: {{{settings}}}
providers:
  ds: {{type: dashscope, base_url: "{ds_url}/api/v1", api_key: sk-fake-dashscope}}
deployments:
{deployments}
  - {{model: wan2.7-image-pro, provider: ds}}
extend_v2:
  gpt_image: {{model: wan2.5-t2i-preview}}
  seedream: {{model: wan2.5-i2i-preview}}
""")
        gw = start_gateway(
            tmp / "gw",
            None,
            PIXELGATE_CONFIG=str(path),
            PIXELGATE_FETCH_ALLOW_NETWORKS="127.0.0.1/32",
        )
        stack.callback(gw.stop)
        yield Env(gw, ds, ds_url)


@pytest.fixture(autouse=True)
def _reset(env: Env) -> Iterator[None]:
    yield
    env.ds.fail_tasks = False
    env.ds.failed_results = 0
    env.ds.error_in_200 = False
    env.ds.expire_urls = False


def calls(env: Env, since: int, path: str | None = None) -> list[RecordedRequest]:
    return [r for r in env.ds.requests[since:] if path is None or r.path == path]


def polls(env: Env, since: int) -> list[RecordedRequest]:
    return [r for r in env.ds.requests[since:] if r.path.startswith("/api/v1/tasks/")]


def task_images(env: Env, task_id: str) -> list[int]:
    """Images on the usage rows the task's completion wrote (one row per task)."""
    return [r.images for r in usage_rows(env.gw) if r.request_id == task_id]


def image_at(url: str) -> Image.Image:
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    return Image.open(io.BytesIO(resp.content))


def ds_post(env: Env, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    resp = httpx.post(
        env.gw.base_url + path, json=body, headers=env.gw.headers | headers, timeout=120
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def ds_wait(env: Env, task_id: str) -> Any:
    for _ in range(600):
        body = get(env.gw, f"/api/v1/tasks/{task_id}").json()
        if body["output"]["task_status"] not in ("PENDING", "RUNNING"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never finished:\n{env.gw.logs()}")


def test_async_true_submits_once_and_the_worker_polls(env: Env) -> None:
    before = len(env.ds.requests)
    created = create(
        env.gw,
        {"model": "wan2.5-t2i-preview", "prompt": "a flower shop", "size": "1280x1280", "n": 2},
    )
    assert created["status"] == "pending" and created["poll_url"].startswith("/v1/tasks/")
    done = wait(env.gw, created["task_id"])
    assert done["status"] == "completed", done
    assert len(done["data"]) == 2
    for item in done["data"]:
        assert item["url"].startswith(env.gw.base_url + "/v1/files/")  # stored at once
        assert image_at(item["url"]).size == (1280, 1280)
    submits = calls(env, before, T2I)
    assert len(submits) == 1
    sent = submits[0]
    assert sent.headers["x-dashscope-async"] == "enable"
    assert sent.body == {
        "model": "wan2.5-t2i-preview",
        "input": {"prompt": "a flower shop"},
        "parameters": {"n": 2, "size": "1280*1280"},
    }
    assert len(polls(env, before)) >= 3  # PENDING, RUNNING, SUCCEEDED: the worker polled
    assert task_images(env, created["task_id"]) == [2]


def test_sync_request_waits_for_the_worker(env: Env) -> None:
    before = len(env.ds.requests)
    resp = httpx.post(
        env.gw.base_url + "/v1/images/generations",
        json={"model": "wanx2.1-t2i-turbo", "prompt": "a red fox", "size": "1024x768"},
        headers=env.gw.headers,
        timeout=120,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert len(data) == 1
    img = Image.open(io.BytesIO(base64.b64decode(data[0]["b64_json"])))
    assert img.size == (1024, 768)
    assert len(calls(env, before, T2I)) == 1 and polls(env, before)


def test_official_sdk_image_synthesis_call(env: Env) -> None:
    before = len(env.ds.requests)
    old = dashscope_sdk.base_http_api_url
    dashscope_sdk.base_http_api_url = env.gw.base_url + "/api/v1"
    try:
        rsp = ImageSynthesis.call(
            api_key=env.gw.key,
            model="wan2.5-t2i-preview",
            prompt="a lighthouse at dusk",
            negative_prompt="blurry",
            n=1,
            size="1280*1280",
            prompt_extend=False,
        )
    finally:
        dashscope_sdk.base_http_api_url = old
    assert rsp.status_code == 200, rsp
    assert rsp.output.task_status == "SUCCEEDED"
    url = rsp.output.results[0].url
    assert url.startswith(env.gw.base_url + "/v1/files/")
    assert image_at(url).size == (1280, 1280)
    assert rsp.usage.image_count == 1
    sent = calls(env, before, T2I)[0]
    # The SDK's body went upstream as it came (DashScope to DashScope: passthrough).
    assert sent.body["input"] == {"prompt": "a lighthouse at dusk", "negative_prompt": "blurry"}
    assert sent.body["parameters"].get("prompt_extend") is False, sent.body
    assert sent.body["parameters"]["size"] == "1280*1280"


def test_official_sdk_async_call_fetch_and_wait(env: Env) -> None:
    old = dashscope_sdk.base_http_api_url
    dashscope_sdk.base_http_api_url = env.gw.base_url + "/api/v1"
    try:
        created = ImageSynthesis.async_call(
            api_key=env.gw.key, model="wanx2.1-t2i-turbo", prompt="a paper boat", n=1
        )
        assert created.status_code == 200, created
        assert created.output.task_status in ("PENDING", "RUNNING")
        task_id = created.output.task_id
        fetched = ImageSynthesis.fetch(created, api_key=env.gw.key)
        assert fetched.output.task_id == task_id
        done = ImageSynthesis.wait(created, api_key=env.gw.key)
    finally:
        dashscope_sdk.base_http_api_url = old
    assert done.status_code == 200, done
    assert done.output.task_status == "SUCCEEDED"
    assert image_at(done.output.results[0].url).size == (1024, 1024)
    # The same task through the gateway's own task API.
    own = wait(env.gw, task_id)
    assert own["status"] == "completed" and len(own["data"]) == 1


def test_image2image_editing_with_a_mask(env: Env) -> None:
    before = len(env.ds.requests)
    body = {
        "model": "wanx2.1-imageedit",
        "input": {
            "function": "description_edit_with_mask",
            "prompt": "a ceramic rabbit holding a flower",
            "base_image_url": f"{env.ds_url}/_fake/img/640x480.png",
            "mask_image_url": f"{env.ds_url}/_fake/img/640x480.png",
        },
        "parameters": {"n": 1},
    }
    created = ds_post(env, I2I, body, ASYNC)
    assert created["output"]["task_status"] == "PENDING"
    done = ds_wait(env, created["output"]["task_id"])
    assert done["output"]["task_status"] == "SUCCEEDED", done
    assert done["output"]["task_metrics"] == {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0}
    assert image_at(done["output"]["results"][0]["url"]).size == (640, 480)
    sent = calls(env, before, I2I)
    assert len(sent) == 1 and sent[0].body == body  # forwarded as it came


def test_canonical_edit_is_translated_for_imageedit(env: Env) -> None:
    before = len(env.ds.requests)
    png = io.BytesIO()
    Image.new("RGB", (512, 512), "white").save(png, "PNG")
    resp = httpx.post(
        env.gw.base_url + "/v1/images/edits",
        data={"model": "wanx2.1-imageedit", "prompt": "make it blue", "async": "true"},
        files={"image": ("in.png", png.getvalue(), "image/png")},
        headers=env.gw.headers,
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    done = wait(env.gw, resp.json()["task_id"])
    assert done["status"] == "completed", done
    sent = calls(env, before, I2I)[0].body
    assert sent["input"]["function"] == "description_edit"
    assert sent["input"]["base_image_url"].startswith("data:image/png;base64")


def test_partial_failure_bills_only_produced_images(env: Env) -> None:
    env.ds.failed_results = 1
    created = create(env.gw, {"model": "wan2.5-t2i-preview", "prompt": "two cats", "n": 2})
    done = wait(env.gw, created["task_id"])
    assert done["status"] == "completed" and len(done["data"]) == 1
    assert task_images(env, created["task_id"]) == [1]


def test_failed_task_in_both_shapes(env: Env) -> None:
    env.ds.fail_tasks = True
    created = ds_post(
        env, T2I, {"model": "wanx2.1-t2i-turbo", "input": {"prompt": "a storm"}}, ASYNC
    )
    task_id = created["output"]["task_id"]
    done = ds_wait(env, task_id)
    assert done["output"]["task_status"] == "FAILED"
    assert done["output"]["code"] == "DataInspectionFailed"
    assert "usage" not in done
    own = wait(env.gw, task_id)
    assert own["status"] == "failed" and own["data"] == []
    assert own["error"]["code"] == "DataInspectionFailed"


def test_unknown_and_foreign_task_ids(env: Env) -> None:
    body = get(env.gw, "/api/v1/tasks/no-such-task").json()
    assert body["output"] == {"task_id": "no-such-task", "task_status": "UNKNOWN"}
    created = ds_post(env, T2I, {"model": "wanx2.1-t2i-turbo", "input": {"prompt": "x"}}, ASYNC)
    task_id = created["output"]["task_id"]
    other = env.gw.cli("keys", "create", "--name", "other").stdout.strip().splitlines()[-1]
    resp = get(env.gw, f"/api/v1/tasks/{task_id}", {"Authorization": f"Bearer {other}"})
    assert resp.json()["output"]["task_status"] == "UNKNOWN"
    ds_wait(env, task_id)


def test_bad_synthesis_body_in_dashscope_shape(env: Env) -> None:
    resp = httpx.post(
        env.gw.base_url + T2I,
        json={"model": "wanx2.1-t2i-turbo", "input": {}},
        headers=env.gw.headers | ASYNC,
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "InvalidParameter"
    assert "input.prompt" in resp.json()["message"]


def test_sdk_on_the_sandbox_and_multimodal_async(env: Env) -> None:
    old = dashscope_sdk.base_http_api_url
    dashscope_sdk.base_http_api_url = env.gw.base_url + "/api/v1"
    try:
        rsp = ImageSynthesis.call(
            api_key=env.gw.key, model="sandbox-image", prompt="a kite", n=2, size="800*600"
        )
    finally:
        dashscope_sdk.base_http_api_url = old
    assert rsp.status_code == 200, rsp
    assert rsp.output.task_status == "SUCCEEDED" and len(rsp.output.results) == 2
    assert image_at(rsp.output.results[1].url).size == (800, 600)
    body = {
        "model": "wan2.7-image-pro",
        "input": {"messages": [{"role": "user", "content": [{"text": "a teapot"}]}]},
        "parameters": {"size": "2K", "n": 1},
    }
    created = ds_post(env, "/api/v1/services/aigc/image-generation/generation", body, ASYNC)
    done = ds_wait(env, created["output"]["task_id"])
    assert done["output"]["task_status"] == "SUCCEEDED", done
    content = done["output"]["choices"][0]["message"]["content"][0]
    assert image_at(content["image"]).size[0] > 0


def test_v2_extend_families_on_dashscope_tasks(env: Env) -> None:
    """Seed 001's contract on the DashScope-async upstream."""
    before = len(env.ds.requests)
    headers = {"X-API-Key": env.gw.key}
    cases = [
        ("/gpt_image/generations", {"prompt": "a mug", "size": "1280x1280"}, "/gpt_image/tasks/"),
        (
            "/seedream/generations",
            {
                "prompt": "autumn",
                "size": "1280x1280",
                "image": [f"{env.ds_url}/_fake/img/800x800.png"],
            },
            "/seedream/tasks/",
        ),
    ]
    for path, body, poll in cases:
        resp = httpx.post(
            env.gw.base_url + "/v2/extend/image" + path, json=body, headers=headers, timeout=60
        )
        assert resp.status_code == 200, resp.text
        done = wait(
            env.gw, resp.json()["task_id"], prefix="/v2/extend/image" + poll, headers=headers
        )
        assert done["status"] == "succeeded", done
        assert image_at(done["result"]["images"][0]["url"]).size == (1280, 1280)
    assert len(calls(env, before, T2I)) == 1
    i2i = calls(env, before, I2I)
    assert len(i2i) == 1 and i2i[0].body["input"]["images"][0].startswith("data:image/png")


def test_error_inside_a_200_and_expired_result_links(env: Env) -> None:
    env.ds.error_in_200 = True
    created = create(env.gw, {"model": "wanx2.1-t2i-turbo", "prompt": "a bell"})
    done = wait(env.gw, created["task_id"])
    assert done["status"] == "failed" and done["error"]["message"], done
    assert task_images(env, created["task_id"]) == [0]  # nothing produced, nothing billed
    env.ds.error_in_200 = False
    env.ds.expire_urls = True
    created = create(env.gw, {"model": "wanx2.1-t2i-turbo", "prompt": "a bell"})
    done = wait(env.gw, created["task_id"])
    assert done["status"] == "failed", done
    assert "could not be downloaded" in done["error"]["message"]


def test_sigkill_while_dashscope_tasks_run(tmp_path: Path, database_url: str) -> None:
    """Kill the gateway while DashScope tasks are submitted and being polled: a new process
    resumes polling them — each was submitted exactly once and is settled exactly once."""
    with ExitStack() as stack:
        ds = dashscope.DashScopeFakeState(task_steps=10**6)  # upstream work stays running
        ds_url = stack.enter_context(serve(dashscope.create_app(ds)))
        settings = ", ".join(f"{k}: {v}" for k, v in FAST.items())
        path = tmp_path / "pixelgate.yaml"
        path.write_text(f"""
tasks: {{{settings}}}
providers:
  ds: {{type: dashscope, base_url: "{ds_url}/api/v1", api_key: sk-fake-dashscope}}
deployments:
  - {{model: wan2.5-t2i-preview, provider: ds}}
""")
        env = {"PIXELGATE_CONFIG": str(path), "PIXELGATE_FETCH_ALLOW_NETWORKS": "127.0.0.1/32"}
        first = start_gateway(tmp_path / "gw", database_url, **env)
        try:
            ids = [
                create(first, {"model": "wan2.5-t2i-preview", "prompt": f"cat {i}"})["task_id"]
                for i in range(3)
            ]
            deadline = time.monotonic() + 60
            while sum(1 for t in ds.tasks.values() if t.polls >= 2) < 3:
                assert time.monotonic() < deadline, first.logs()
                time.sleep(0.1)
        finally:
            assert first.proc is not None
            first.proc.kill()  # SIGKILL: no shutdown, leases stay held
            first.proc.wait()
        assert ds.task_submissions == 3
        ds.task_steps = 0
        second = start_gateway(tmp_path / "gw", database_url, log_name="gateway2.log", **env)
        stack.callback(second.stop)
        for task_id in ids:
            done = wait(second, task_id, headers=first.headers)
            assert done["status"] == "completed", done
            assert image_at(done["data"][0]["url"]).size == (1280, 1280)
        assert ds.task_submissions == 3  # none submitted twice
        settled = sorted(r.request_id for r in usage_rows(second) if r.request_id in ids)
        assert settled == sorted(ids)  # one settle row per task
