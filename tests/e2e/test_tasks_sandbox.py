"""Seed 003 and seed 001 task contracts on the embedded default (sandbox), on SQLite and
PostgreSQL, over real HTTP (the openai SDK cannot do `async`, so httpx)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from tests.e2e.tasks_env import create, get, wait
from tests.fakes.images import image_b64, image_bytes
from tests.support.db import usage_rows
from tests.support.gateway import Gateway


def other_key(gw: Gateway) -> dict[str, str]:
    key = gw.cli("keys", "create", "--name", "someone-else").stdout.strip().splitlines()[-1]
    return {"Authorization": f"Bearer {key}"}


def fetch_image(url: str) -> Image.Image:
    resp = httpx.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    return Image.open(io.BytesIO(resp.content))


def test_async_create_answers_exactly_the_seed_shape(gateway: Gateway) -> None:
    created = create(gateway, {"model": "sandbox-image", "prompt": "a lighthouse", "size": "64x48"})
    assert set(created) == {"created", "task_id", "status", "poll_url", "data"}
    assert created["status"] == "pending" and created["data"] == []
    assert created["poll_url"] == f"/v1/tasks/{created['task_id']}"
    assert isinstance(created["created"], int)
    done = wait(gateway, created["task_id"])
    assert done["status"] == "completed" and done["error"] is None
    assert done["task_id"] == created["task_id"] and done["model"] == "sandbox-image"
    assert fetch_image(done["data"][0]["url"]).size == (64, 48)


def test_completed_tasks_answer_urls_whatever_response_format_said(gateway: Gateway) -> None:
    body = {"model": "sandbox-image", "prompt": "x", "size": "32x32", "n": 2}
    created = create(gateway, {**body, "response_format": "b64_json", "output_format": "webp"})
    done = wait(gateway, created["task_id"])
    assert [set(item) for item in done["data"]] == [{"url"}, {"url"}]
    assert all(fetch_image(item["url"]).format == "WEBP" for item in done["data"])
    # exactly one usage (settle) row for the task, next to the creating request's own row
    rows = [r for r in usage_rows(gateway) if r.request_id == created["task_id"]]
    assert len(rows) == 1 and rows[0].images == 2 and rows[0].status == 200


def test_only_the_creating_key_reads_a_task(gateway: Gateway) -> None:
    created = create(gateway, {"model": "sandbox-image", "prompt": "mine", "size": "32x32"})
    wait(gateway, created["task_id"])
    stranger = other_key(gateway)
    for path in (
        f"/v1/tasks/{created['task_id']}",
        f"/v2/extend/image/tasks/{created['task_id']}",
    ):
        resp = get(gateway, path, stranger)
        assert resp.status_code == 404, resp.text
    assert get(gateway, "/v1/tasks/task_0000000000000000000000ff").status_code == 404
    anonymous = httpx.get(f"{gateway.base_url}/v1/tasks/{created['task_id']}")
    assert anonymous.status_code == 401


def test_async_edits_take_multipart_fields(gateway: Gateway) -> None:
    resp = httpx.post(
        gateway.base_url + "/v1/images/edits",
        data={"model": "sandbox-image", "prompt": "paint it", "async": "true"},
        files={"image": ("in.png", image_bytes(40, 30), "image/png")},
        headers=gateway.headers,
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    done = wait(gateway, resp.json()["task_id"])
    assert fetch_image(done["data"][0]["url"]).size == (40, 30)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"stream": True}, "stream"),
        ({"callback_url": "http://127.0.0.1:9/hook"}, "callback_url"),
        ({"callback_url": "http://10.1.2.3/hook"}, "callback_url"),
        ({"size": "5x5"}, "size"),
    ],
)
def test_async_requests_are_validated_before_a_task_exists(
    gateway: Gateway, extra: dict[str, object], param: str
) -> None:
    body = {"model": "sandbox-image", "prompt": "x", "async": True, **extra}
    resp = httpx.post(
        gateway.base_url + "/v1/images/generations", json=body, headers=gateway.headers
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param


V2 = "/v2/extend/image"


def v2(gw: Gateway, path: str, body: dict[str, object], api_key: bool = True) -> httpx.Response:
    headers = {"X-API-Key": gw.key} if api_key else gw.headers
    return httpx.post(gw.base_url + V2 + path, json=body, headers=headers, timeout=60)


@pytest.mark.parametrize(
    ("path", "body", "poll", "size"),
    [
        ("/seedream/generations", {"prompt": "cat", "size": "96x64"}, "/seedream/tasks/", (96, 64)),
        (
            "/generations",
            {"prompt": "cat", "size": "0.5K", "aspect_ratio": "16:9",
             "output_format": "image/webp"},
            "/tasks/",
            (512, 288),
        ),
        (
            "/gpt_image/generations",
            {"prompt": "cat", "size": "64x64", "quality": "low", "n": 2, "background":
             "transparent", "output_format": "png"},
            "/gpt_image/tasks/",
            (64, 64),
        ),
    ],
)  # fmt: skip
def test_v2_families_run_on_the_sandbox(
    gateway: Gateway, path: str, body: dict[str, object], poll: str, size: tuple[int, int]
) -> None:
    resp = v2(gateway, path, body)
    assert resp.status_code == 200, resp.text
    created = resp.json()
    assert set(created) == {"task_id", "model"} and created["model"] == "sandbox-image"
    headers = {"X-API-Key": gateway.key}
    done = wait(gateway, created["task_id"], prefix=V2 + poll, headers=headers)
    assert set(done) >= {"task_id", "status", "model", "result", "error"}
    assert done["status"] == "succeeded" and done["error"] is None
    images = done["result"]["images"]
    assert len(images) == body.get("n", 1)
    for item in images:
        assert fetch_image(item["url"]).size == size
    if body.get("output_format") == "image/webp":
        assert fetch_image(images[0]["url"]).format == "WEBP"


def test_v2_seedream_takes_reference_images_and_bearer(gateway: Gateway) -> None:
    body = {"prompt": "cat", "image": [image_b64(50, 40), "data:image/png;base64," + image_b64()]}
    resp = v2(gateway, "/seedream/generations", body, api_key=False)
    assert resp.status_code == 200, resp.text
    done = wait(gateway, resp.json()["task_id"], prefix=V2 + "/seedream/tasks/")
    assert fetch_image(done["result"]["images"][0]["url"]).size == (50, 40)
    # a seedream task is not a gpt_image task
    other = get(gateway, f"{V2}/gpt_image/tasks/{done['task_id']}")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/generations", {"prompt": "x", "size": "3K"}, 400, "invalid_parameter"),
        ("/generations", {"prompt": "x", "model": "nope"}, 404, "model_not_found"),
        ("/gpt_image/generations", {"size": "64x64"}, 400, "invalid_parameter"),
        ("/seedream/generations", {"prompt": "x", "image": ["%%%"]}, 400, "invalid_parameter"),
    ],
)
def test_v2_errors(
    gateway: Gateway, path: str, body: dict[str, object], status: int, code: str
) -> None:
    resp = v2(gateway, path, body)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    missing = httpx.post(gateway.base_url + V2 + path, json={"prompt": "x"})
    assert missing.status_code == 401
