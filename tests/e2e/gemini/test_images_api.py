"""Gemini image models on /v1/images/generations and /v1/images/edits (seed 003) through the
gateway to the Gemini fake: aspect_ratio, resolution, size as an alias, image-to-image,
refusals naming the param, blocks, and upstream failures mapped."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from tests.e2e.gemini.conftest import BAD_KEY, UPSTREAM_KEY
from tests.fakes.gemini import GeminiFakeState
from tests.fakes.images import image_bytes
from tests.support.db import last_usage, usage_rows
from tests.support.gateway import Gateway

GEN = "/v1/images/generations"


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=gw.key, max_retries=0)


def size_of(b64: str | None) -> tuple[int, int]:
    assert b64
    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        return img.size


def generate(gw: Gateway, **body: Any) -> httpx.Response:
    return httpx.post(gw.base_url + GEN, json=body, headers=gw.headers, timeout=30)


def image_config(upstream: GeminiFakeState) -> Any:
    return upstream.requests[-1].body["generationConfig"].get("imageConfig")


def test_aspect_ratio_and_resolution(gw: Gateway, upstream: GeminiFakeState) -> None:
    result = client(gw).images.generate(
        model="gemini-3-pro-image-preview",
        prompt="A cinematic portrait of a white cat sitting on a rainy windowsill",
        extra_body={"aspect_ratio": "16:9", "resolution": "2k"},
    )
    assert result.data and size_of(result.data[0].b64_json) == (2816, 1536)
    assert result.usage and result.usage.output_tokens_details
    assert result.usage.output_tokens_details.image_tokens == 1120
    sent = upstream.requests[-1]
    assert sent.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.body["generationConfig"] == {
        "responseModalities": ["IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
    }


@pytest.mark.parametrize(
    ("model", "size", "config", "pixels"),
    [
        ("gemini-2.5-flash-image", "1792x1024", {"aspectRatio": "16:9"}, (1344, 768)),
        ("nano-banana-2", "2048x2048", {"aspectRatio": "1:1", "imageSize": "2K"}, (2048, 2048)),
        (
            "gemini-3-pro-image-preview",
            "1024x1536",
            {"aspectRatio": "2:3", "imageSize": "1K"},
            (832, 1248),
        ),
    ],
)
def test_size_is_an_alias(
    gw: Gateway,
    upstream: GeminiFakeState,
    model: str,
    size: str,
    config: dict[str, str],
    pixels: tuple[int, int],
) -> None:
    result = client(gw).images.generate(model=model, prompt="a kite", size=size)  # type: ignore[arg-type]
    assert result.data and size_of(result.data[0].b64_json) == pixels
    assert image_config(upstream) == config


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gemini-2.5-flash-image", "resolution": "2k"}, "resolution"),
        ({"model": "nano-banana", "resolution": "1k"}, "resolution"),
        ({"model": "gemini-3-pro-image-preview", "resolution": "8k"}, "resolution"),
        ({"model": "gemini-3-pro-image-preview", "aspect_ratio": "1:8"}, "aspect_ratio"),
        ({"model": "gemini-3.1-flash-image-preview", "aspect_ratio": "wide"}, "aspect_ratio"),
        (
            {
                "model": "nano-banana-pro",
                "operation": "image-to-image",
                "image_url": "data:image/png;base64," + base64.b64encode(image_bytes()).decode(),
                "resolution": "2k",
            },
            "resolution",
        ),
        ({"model": "nano-banana", "operation": "image-to-image"}, "image_urls"),
        ({"model": "nano-banana", "operation": "upscale"}, "operation"),
        ({"model": "nano-banana", "image_urls": "https://x/y.png"}, "image_urls"),
        ({"model": "nano-banana", "image_url": "ftp://x/y.png"}, "image_url"),
        ({"model": "gemini-3-pro-image-preview", "n": 5}, "n"),
    ],
)
def test_refusals_name_the_param(
    gw: Gateway, upstream: GeminiFakeState, body: dict[str, Any], param: str
) -> None:
    resp = generate(gw, prompt="x", **body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param
    assert upstream.requests == []
    assert last_usage(gw).status == 400


def test_image_to_image_with_urls(gw: Gateway, upstream: GeminiFakeState, refs: str) -> None:
    resp = generate(
        gw,
        model="nano-banana-2",
        prompt="put the subject in a spacesuit",
        operation="image-to-image",
        image_urls=[refs + "/ref.png"],
        reference_image_urls=[refs + "/ref.jpg"],
        size="2048x2048",  # an alias: the ratio is taken, no resolution on image-to-image
    )
    assert resp.status_code == 200, resp.text
    assert size_of(resp.json()["data"][0]["b64_json"]) == (1024, 1024)
    parts = upstream.requests[-1].body["contents"][0]["parts"]
    assert [p.get("inlineData", {}).get("mimeType") for p in parts] == [
        None,
        "image/png",
        "image/jpeg",
    ]
    assert image_config(upstream) == {"aspectRatio": "1:1"}
    assert last_usage(gw).operation == "image-to-image"


def test_image_to_image_multipart_with_url_output(gw: Gateway, upstream: GeminiFakeState) -> None:
    resp = httpx.post(
        gw.base_url + GEN,
        headers=gw.headers,
        data={
            "model": "nano-banana",
            "prompt": "a cartoon",
            "operation": "image-to-image",
            "response_format": "url",
        },
        files={"image": ("ref.png", image_bytes(300, 600, "PNG"), "image/png")},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    url = resp.json()["data"][0]["url"]
    assert url.startswith(gw.base_url + "/v1/files/")
    fetched = httpx.get(url)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(fetched.content)).size == (768, 1344)  # follows the 1:2 input
    assert "imageConfig" not in upstream.requests[-1].body["generationConfig"]


def test_edits_endpoint_with_a_gemini_model(gw: Gateway, upstream: GeminiFakeState) -> None:
    result = client(gw).images.edit(
        model="gemini-3-pro-image-preview",
        image=[
            ("a.png", image_bytes(64, 64), "image/png"),
            ("b.jpg", image_bytes(32, 32, "JPEG"), "image/jpeg"),
        ],
        prompt="combine them",
        extra_body={"aspect_ratio": "4:3"},
    )
    assert result.data and size_of(result.data[0].b64_json) == (1184, 864)
    parts = upstream.requests[-1].body["contents"][0]["parts"]
    assert len(parts) == 3 and parts[2]["inlineData"]["mimeType"] == "image/jpeg"
    with pytest.raises(openai.BadRequestError) as masked:
        client(gw).images.edit(
            model="gemini-3-pro-image-preview",
            image=("a.png", image_bytes(64, 64), "image/png"),
            mask=("m.png", image_bytes(64, 64), "image/png"),
            prompt="x",
        )
    assert masked.value.param == "mask"


def test_n_fans_out_one_call_per_image(gw: Gateway, upstream: GeminiFakeState) -> None:
    result = client(gw).images.generate(
        model="gemini-2.5-flash-image", prompt="three apples", n=3, output_format="jpeg"
    )
    assert result.data and len(result.data) == 3
    for item in result.data:
        assert item.b64_json
        assert Image.open(io.BytesIO(base64.b64decode(item.b64_json))).format == "JPEG"
    assert len(upstream.requests) == 3
    assert result.usage and result.usage.output_tokens_details
    assert result.usage.output_tokens_details.image_tokens == 3 * 1290
    assert last_usage(gw).images == 3


@pytest.mark.parametrize(
    "outcome", ["SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "NO_IMAGE", "prompt_blocked"]
)
def test_blocks_are_content_policy_errors(
    gw: Gateway, upstream: GeminiFakeState, outcome: str
) -> None:
    upstream.block = outcome
    with pytest.raises(openai.BadRequestError) as info:
        client(gw).images.generate(model="gemini-3-pro-image-preview", prompt="x")
    assert info.value.code == "content_policy_violation"
    assert ("NO_IMAGE" if outcome == "NO_IMAGE" else "blocked") in info.value.message
    row = last_usage(gw)
    assert (row.status, row.images, row.error_code) == (400, 0, "content_policy_violation")


def test_a_question_on_the_images_api_gets_no_200(gw: Gateway, upstream: GeminiFakeState) -> None:
    upstream.text_only_words = {"2+2"}
    # /v1/images/* ask Gemini for IMAGE alone, so a model that would answer in words says
    # NO_IMAGE; an upstream answering text anyway is refused by the pipeline (unit-tested).
    resp = generate(gw, model="gemini-2.5-flash-image", prompt="what is 2+2?")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "content_policy_violation"
    assert upstream.requests[-1].body["generationConfig"]["responseModalities"] == ["IMAGE"]


def test_upstream_credentials_refused(gw: Gateway, upstream: GeminiFakeState) -> None:
    resp = generate(gw, model="badkey-image", prompt="x")
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_auth_error"
    for fault in ("status_401", "status_403"):
        upstream.faults.queue(fault)
        refused = generate(gw, model="gemini-2.5-flash-image", prompt="x")
        assert refused.status_code == 502, fault
        assert refused.json()["error"]["code"] == "upstream_auth_error"
    for text in (resp.text, refused.text, gw.logs(), repr(usage_rows(gw))):
        assert BAD_KEY not in text and UPSTREAM_KEY not in text


def test_retryable_failures_fail_over(gw: Gateway, upstream: GeminiFakeState) -> None:
    upstream.faults.queue("status_429")
    ok = client(gw).images.generate(model="failover-image", prompt="x")
    assert ok.data and len(upstream.requests) == 2
    assert upstream.requests[0].path.startswith("/v1beta/")
    assert upstream.requests[1].path.startswith("/v1/")  # the second deployment
    upstream.faults.queue("status_500", "status_503")
    with pytest.raises(openai.APIStatusError) as both:
        client(gw).images.generate(model="failover-image", prompt="x")
    assert both.value.status_code == 503
    upstream.faults.queue("status_429")
    limited = generate(gw, model="gemini-2.5-flash-image", prompt="x")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert limited.json()["error"]["code"] == "upstream_rate_limited"


def test_upstream_timeout_is_504(gw: Gateway, upstream: GeminiFakeState) -> None:
    upstream.faults.hang_seconds = 3
    upstream.faults.queue("timeout")
    resp = generate(gw, model="slow-image", prompt="x")
    assert resp.status_code == 504 and resp.json()["error"]["code"] == "upstream_timeout"
