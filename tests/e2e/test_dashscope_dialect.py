"""The DashScope body as a client dialect (issue 5 item 2): seed 000's passthrough examples
byte for byte, the upstream JSON returned unchanged in shape, re-hosting as a switch, the
same body served by non-DashScope deployments, and the official `dashscope` SDK."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dashscope as dashscope_sdk
import httpx
import orjson
import pytest
from PIL import Image

from tests.fakes import dashscope, openai
from tests.fakes.server import serve
from tests.support.db import last_usage
from tests.support.gateway import Gateway, start_gateway

SEED_4_1 = """{
"model": "wan2.7-image-pro",
"input": {
"messages": [
{
"role": "user",
"content": [
{"text": "A flower shop with elegant windows, a beautiful wooden door, and fresh flowers on display."}
]
}
]
},
"parameters": {
"size": "2K",
"n": 1,
"watermark": false,
"thinking_mode": true
}
}"""

SEED_4_2 = """{
"model": "wan2.7-image-pro",
"input": {
"messages": [
{
"role": "user",
"content": [
{"image": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20251229/pjeqdf/car.webp"},
{"image": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20251229/xsunlm/paint.webp"},
{"text": "Apply the graffiti style from image 2 onto the car in image 1."}
]
}
]
},
"parameters": {
"size": "2K",
"n": 1,
"watermark": false
}
}"""

SEED_4_3 = """{
"model": "wan2.7-image-pro",
"input": {
"messages": [
{
"role": "user",
"content": [
{"image": "https://img.alicdn.com/imgextra/i3/O1CN0157XGE51l6iL9441yX_!!6000000004770-49-tps-1104-1472.webp"},
{"image": "https://img.alicdn.com/imgextra/i3/O1CN01SfG4J41UYn9WNt4X1_!!6000000002530-49-tps-1696-960.webp"},
{"text": "Place the alarm clock from image 1 into the selected box in image 2, keeping scene and lighting naturally blended."}
]
}
]
},
"parameters": {
"bbox_list": [[],[[989, 515, 1138, 681]]],
"size": "2K",
"n": 1,
"watermark": false
}
}"""

SEED_4_4 = """{
"model": "wan2.7-image-pro",
"input": {
"messages": [
{
"role": "user",
"content": [
{"text": "A cinematic four-image sequence featuring the same stray orange cat with consistent appearance: Image 1 (spring): the cat walks under blooming cherry blossoms; Image 2 (summer): the cat rests in the shade on an old street; Image 3 (autumn): the cat steps on golden fallen leaves; Image 4 (winter): the cat leaves footprints in the snow."}
]
}
]
},
"parameters": {
"enable_sequential": true,
"n": 4,
"size": "2K"
}
}"""

IMAGE_URLS = {
    "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20251229/pjeqdf/car.webp": "900x600.webp",
    "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20251229/xsunlm/paint.webp": "800x800.webp",
    "https://img.alicdn.com/imgextra/i3/O1CN0157XGE51l6iL9441yX_!!6000000004770-49-tps-1104-1472.webp": "1104x1472.webp",
    "https://img.alicdn.com/imgextra/i3/O1CN01SfG4J41UYn9WNt4X1_!!6000000002530-49-tps-1696-960.webp": "1696x960.webp",
}


@dataclass
class Env:
    gw: Gateway
    rehost: Gateway
    ds: dashscope.DashScopeFakeState
    oa: openai.OpenAIFakeState
    ds_url: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("dsdialect")
    with ExitStack() as stack:
        ds = dashscope.DashScopeFakeState()
        oa = openai.OpenAIFakeState()
        ds_url = stack.enter_context(serve(dashscope.create_app(ds)))
        oa_url = stack.enter_context(serve(openai.create_app(oa)))
        base = f"""
providers:
  ds: {{type: dashscope, base_url: "{ds_url}/api/v1", api_key: sk-fake-dashscope}}
  oa: {{type: openai, base_url: "{oa_url}/v1", api_key: sk-test}}
deployments:
  - {{model: wan2.7-image-pro, provider: ds}}
  - {{model: gpt-image-2, provider: oa}}
"""
        plain, rehost = tmp / "plain.yaml", tmp / "rehost.yaml"
        plain.write_text(base)
        rehost.write_text("defaults: {rehost_upstream_urls: true}\n" + base)
        allow = {"PIXELGATE_FETCH_ALLOW_NETWORKS": "127.0.0.1/32"}
        gw = start_gateway(tmp / "a", None, PIXELGATE_CONFIG=str(plain), **allow)
        stack.callback(gw.stop)
        gw2 = start_gateway(tmp / "b", None, PIXELGATE_CONFIG=str(rehost), **allow)
        stack.callback(gw2.stop)
        yield Env(gw, gw2, ds, oa, ds_url)


def local(env: Env, text: str) -> str:
    for remote, name in IMAGE_URLS.items():
        text = text.replace(remote, f"{env.ds_url}/_fake/img/{name}")
    return text


def post_raw(gw: Gateway, text: str, path: str = "/v1/images/generations") -> httpx.Response:
    return httpx.post(
        gw.base_url + path,
        content=text.encode(),
        headers={**gw.headers, "Content-Type": "application/json"},
        timeout=60,
    )


def images_of(body: dict[str, Any]) -> list[str]:
    return [
        item["image"]
        for choice in body["output"]["choices"]
        for item in choice["message"]["content"]
        if "image" in item
    ]


@pytest.mark.parametrize(
    ("seed", "count"), [(SEED_4_1, 1), (SEED_4_2, 1), (SEED_4_3, 1), (SEED_4_4, 4)]
)
def test_seed_000_scenarios_pass_through(env: Env, seed: str, count: int) -> None:
    text = local(env, seed)
    before = len(env.ds.requests)
    resp = post_raw(env.gw, text)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) >= {"output", "usage", "request_id"}
    links = images_of(body)
    assert len(links) == count
    assert all(link.startswith(env.ds_url + "/oss/") for link in links)  # not re-hosted
    image = Image.open(io.BytesIO(httpx.get(links[0]).content))
    assert image.width > 0
    sent = env.ds.requests[before]
    assert sent.path.endswith("/multimodal-generation/generation")
    assert sent.body == orjson.loads(text)  # forwarded as it came
    assert last_usage(env.gw).images == count


def test_rehosting_is_a_switch(env: Env) -> None:
    resp = post_raw(env.rehost, local(env, SEED_4_1))
    assert resp.status_code == 200, resp.text
    links = images_of(resp.json())
    assert links[0].startswith(env.rehost.base_url + "/v1/files/")
    assert httpx.get(links[0]).status_code == 200


def test_dashscope_body_to_a_non_dashscope_model(env: Env) -> None:
    text = local(env, SEED_4_2).replace('"wan2.7-image-pro"', '"sandbox-image"')
    text = text.replace('"2K"', '"1024*768"')
    resp = post_raw(env.gw, text)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    links = images_of(body)
    assert len(links) == 1 and links[0].startswith(env.gw.base_url + "/v1/files/")
    assert body["usage"]["image_count"] == 1 and body["usage"]["size"] == "1024*768"
    img = Image.open(io.BytesIO(httpx.get(links[0]).content))
    assert img.size == (1024, 768)
    gpt = local(env, SEED_4_1).replace('"wan2.7-image-pro"', '"gpt-image-2"')
    gpt = gpt.replace('"2K"', '"1536*1024"')
    resp = post_raw(env.gw, gpt)
    assert resp.status_code == 200, resp.text
    assert env.oa.requests[-1].json["size"] == "1536x1024"
    assert len(images_of(resp.json())) == 1


def test_errors_in_dashscope_shape(env: Env) -> None:
    resp = post_raw(env.gw, '{"model": "wan2.7-image-pro", "input": {"messages": []}}')
    assert resp.status_code == 400
    assert set(resp.json()) == {"request_id", "code", "message"}
    assert resp.json()["code"] == "InvalidParameter"
    resp = httpx.post(
        env.gw.base_url + "/api/v1/services/aigc/multimodal-generation/generation",
        json=orjson.loads(SEED_4_1),
        headers={"Authorization": "Bearer wrong"},
    )
    assert resp.status_code == 401 and resp.json()["code"] == "InvalidApiKey"


def test_official_dashscope_sdk(env: Env) -> None:
    old = dashscope_sdk.base_http_api_url
    dashscope_sdk.base_http_api_url = env.gw.base_url + "/api/v1"
    try:
        resp = dashscope_sdk.MultiModalConversation.call(
            api_key=env.gw.key,
            model="wan2.7-image-pro",
            messages=[{"role": "user", "content": [{"text": "a red lantern"}]}],
            size="2K",
            n=1,
            watermark=False,
        )
    finally:
        dashscope_sdk.base_http_api_url = old
    assert resp.status_code == 200, resp
    content = resp.output.choices[0].message.content
    assert content[0]["image"].startswith(env.ds_url)
