"""DashScope and Ark upstreams reached through the canonical form: OpenAI-shaped requests
(the `openai` SDK) to Wan / Qwen-Image and Seedream deployments, and their error mapping —
including DashScope's error inside an HTTP 200."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime.types.images import SequentialImageGenerationOptions

from tests.fakes import ark, dashscope
from tests.fakes.images import image_bytes
from tests.fakes.server import serve
from tests.support.db import last_usage
from tests.support.gateway import Gateway, start_gateway


@dataclass
class Env:
    gw: Gateway
    ds: dashscope.DashScopeFakeState
    ark: ark.ArkFakeState


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("dsark")
    with ExitStack() as stack:
        ds = dashscope.DashScopeFakeState()
        ak = ark.ArkFakeState()
        ds_url = stack.enter_context(serve(dashscope.create_app(ds)))
        ak_url = stack.enter_context(serve(ark.create_app(ak)))
        config = tmp / "pixelgate.yaml"
        config.write_text(f"""
routing: {{failure_threshold: 1000}}
providers:
  ds: {{type: dashscope, base_url: "{ds_url}/api/v1", api_key: sk-fake-dashscope}}
  volc: {{type: ark, base_url: "{ak_url}/api/v3", api_key: ark-fake-key}}
deployments:
  - {{model: wan2.7-image-pro, provider: ds}}
  - {{model: wan2.6-t2i, provider: ds}}
  - {{model: wan2.6-image, provider: ds}}
  - {{model: qwen-image-max, provider: ds}}
  - {{model: doubao-seedream-4-0-250828, provider: volc}}
  - {{model: doubao-seedream-4-5-251128, provider: volc}}
""")
        gw = start_gateway(tmp / "gw", None, PIXELGATE_CONFIG=str(config))
        stack.callback(gw.stop)
        yield Env(gw, ds, ak)


def client(env: Env) -> openai.OpenAI:
    return openai.OpenAI(base_url=env.gw.base_url + "/v1", api_key=env.gw.key, max_retries=0)


def decode(b64: str | None) -> Image.Image:
    assert b64
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_wan_text_to_image_via_openai_sdk(env: Env) -> None:
    before = len(env.ds.requests)
    result = client(env).images.generate(
        model="wan2.6-t2i",
        prompt="a flower shop",
        size="1280x1280",
        n=2,
        extra_body={"negative_prompt": "blurry", "prompt_extend": False, "watermark": False},
    )
    assert result.data and len(result.data) == 2
    assert decode(result.data[0].b64_json).size == (1280, 1280)
    sent = env.ds.requests[before].body
    assert sent["parameters"]["size"] == "1280*1280" and sent["parameters"]["n"] == 2
    assert sent["parameters"]["prompt_extend"] is False
    assert sent["input"]["messages"][0]["content"] == [{"text": "a flower shop"}]
    assert last_usage(env.gw).images == 2


def test_wan_tier_size_and_edit_with_two_images(env: Env) -> None:
    result = client(env).images.edit(
        model="wan2.6-image",
        image=[
            ("a.png", image_bytes(600, 400, "JPEG"), "image/jpeg"),
            ("b.png", image_bytes(500, 500, "JPEG"), "image/jpeg"),
        ],
        prompt="graffiti style from image 2 on the car in image 1",
        extra_body={"size": "1K"},
    )
    assert result.data and decode(result.data[0].b64_json).width > 0
    sent = env.ds.requests[-1].body
    content = sent["input"]["messages"][0]["content"]
    assert [list(c) for c in content] == [["image"], ["image"], ["text"]]
    assert sent["parameters"]["size"] == "1K"


def test_qwen_fixed_sizes(env: Env) -> None:
    ok = client(env).images.generate(model="qwen-image-max", prompt="poster", size="1472x1104")
    assert ok.data and decode(ok.data[0].b64_json).size == (1472, 1104)
    bad = httpx.post(
        env.gw.base_url + "/v1/images/generations",
        headers=env.gw.headers,
        json={"model": "qwen-image-max", "prompt": "x", "size": "1024x1024"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "size"


def test_dashscope_error_inside_200_is_an_error(env: Env) -> None:
    env.ds.error_in_200 = True
    try:
        resp = httpx.post(
            env.gw.base_url + "/v1/images/generations",
            headers=env.gw.headers,
            json={"model": "wan2.6-t2i", "prompt": "x", "size": "1280x1280"},
        )
    finally:
        env.ds.error_in_200 = False
    assert resp.status_code == 502, resp.text
    assert resp.json()["error"]["code"] == "upstream_error"
    assert last_usage(env.gw).images == 0


def test_dashscope_moderation_and_expired_links(env: Env) -> None:
    resp = httpx.post(
        env.gw.base_url + "/v1/images/generations",
        headers=env.gw.headers,
        json={"model": "wan2.6-t2i", "prompt": "x [blocked]", "size": "1280x1280"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "DataInspectionFailed"
    env.ds.expire_urls = True
    try:
        resp = httpx.post(
            env.gw.base_url + "/v1/images/generations",
            headers=env.gw.headers,
            json={"model": "wan2.6-t2i", "prompt": "x", "size": "1280x1280"},
        )
    finally:
        env.ds.expire_urls = False
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "upstream_bad_response"


def test_seedream_group_and_reference_images(env: Env) -> None:
    before = len(env.ark.requests)
    result = client(env).images.generate(
        model="ark/doubao-seedream-4-0-250828",
        prompt="four seasons",
        size="1280x720",
        n=3,
        extra_body={"watermark": False},
    )
    assert result.data and len(result.data) == 3
    assert decode(result.data[0].b64_json).size == (1280, 720)
    sent = env.ark.requests[before].body
    assert sent["sequential_image_generation"] == "auto"
    assert sent["sequential_image_generation_options"] == {"max_images": 3}
    assert sent["watermark"] is False and sent["response_format"] == "b64_json"
    assert "n" not in sent
    edit = client(env).images.edit(
        model="doubao-seedream-4-0-250828",
        image=("a.png", image_bytes(512, 512), "image/png"),
        prompt="close-up",
        extra_body={"size": "2K"},
    )
    assert edit.data
    sent = env.ark.requests[-1].body
    assert sent["size"] == "2K" and str(sent["image"]).startswith("data:image/png;base64,")


def test_seedream_minimum_pixels_rule(env: Env) -> None:
    resp = httpx.post(
        env.gw.base_url + "/v1/images/generations",
        headers=env.gw.headers,
        json={"model": "doubao-seedream-4-5-251128", "prompt": "x", "size": "1024x1024"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "size"
    assert "3,686,400" in resp.json()["error"]["message"]


def test_ark_errors(env: Env) -> None:
    resp = httpx.post(
        env.gw.base_url + "/v1/images/generations",
        headers=env.gw.headers,
        json={"model": "doubao-seedream-4-0-250828", "prompt": "[blocked]"},
    )
    assert resp.status_code == 400
    env.ark.faults.queue("status_429")
    resp = httpx.post(
        env.gw.base_url + "/v1/images/generations",
        headers=env.gw.headers,
        json={"model": "doubao-seedream-4-0-250828", "prompt": "x"},
    )
    assert resp.status_code == 429 and "retry-after" in resp.headers


def ark_client(env: Env) -> Any:
    return Ark(base_url=env.gw.base_url + "/api/v3", api_key=env.gw.key, max_retries=0)


def test_ark_sdk_against_an_ark_deployment(env: Env) -> None:
    before = len(env.ark.requests)
    result = ark_client(env).images.generate(
        model="doubao-seedream-4-0-250828",
        prompt="city skyline at sunset",
        size="1280x720",
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=2),
        watermark=False,
        guidance_scale=5.0,
    )
    assert len(result.data) == 2 and result.usage.generated_images == 2
    url = result.data[0].url
    assert url.startswith(env.gw.base_url + "/v1/files/")  # Ark's default: url, re-hosted
    img = Image.open(io.BytesIO(httpx.get(url).content))
    assert img.size == (1280, 720) and result.data[0].size == "1280x720"
    sent = env.ark.requests[before].body
    assert sent["guidance_scale"] == 5.0 and sent["watermark"] is False
    assert sent["sequential_image_generation_options"] == {"max_images": 2}


def test_ark_sdk_streaming(env: Env) -> None:
    stream = ark_client(env).images.generate(
        model="doubao-seedream-4-0-250828",
        prompt="three cats",
        size="1280x720",
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=3),
        response_format="b64_json",
        stream=True,
    )
    kinds = [event.type for event in stream]
    assert kinds.count("image_generation.partial_succeeded") == 3
    assert kinds[-1] == "image_generation.completed"


def test_ark_sdk_on_the_sandbox(env: Env) -> None:
    result = ark_client(env).images.generate(
        model="sandbox-image",
        prompt="dialect is not provider",
        size="640x360",
        response_format="b64_json",
    )
    assert decode(result.data[0].b64_json).size == (640, 360)


def test_seed_000_ark_example_on_the_openai_endpoint(env: Env) -> None:
    body = {
        "model": "ark/doubao-seedream-4-0-250828",
        "prompt": "日落下的城市天际线,电影感光影",
        "size": "1024x1024",
    }
    before = len(env.ark.requests)
    resp = httpx.post(
        env.gw.base_url + "/v1/images/generations", json=body, headers=env.gw.headers, timeout=30
    )
    assert resp.status_code == 200, resp.text
    assert decode(resp.json()["data"][0]["b64_json"]).size == (1024, 1024)
    assert env.ark.requests[before].body["model"] == "doubao-seedream-4-0-250828"


def test_ark_reference_image_by_url_is_fetched_safely(env: Env) -> None:
    body = {
        "model": "doubao-seedream-4-0-250828",
        "prompt": "x",
        "image": "http://127.0.0.1:9/internal.png",
    }
    resp = httpx.post(
        env.gw.base_url + "/api/v3/images/generations",
        json=body,
        headers=env.gw.headers,
        timeout=30,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "image"
