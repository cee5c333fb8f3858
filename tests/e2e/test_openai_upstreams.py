"""Issue 3 end to end: the `openai` SDK → pixelgate → the OpenAI, Azure, xAI fakes and a second
pixelgate as an OpenAI-compatible upstream."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from PIL import Image

from tests.e2e.upstream_env import Upstreams, start_upstreams
from tests.fakes.images import image_bytes
from tests.support.db import last_usage


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstreams]:
    yield from start_upstreams(tmp_path_factory.mktemp("upstreams"))


def client(up: Upstreams) -> openai.OpenAI:
    return openai.OpenAI(base_url=up.gw.base_url + "/v1", api_key=up.gw.key, max_retries=0)


def decode(b64: str | None) -> Image.Image:
    assert b64
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def rgba_png(width: int, height: int, alpha: int = 255) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height), (30, 60, 90, alpha)).save(buf, "PNG")
    return buf.getvalue()


def test_gpt_image_1_generate(up: Upstreams) -> None:
    before = len(up.openai.requests)
    raw = client(up).images.with_raw_response.generate(
        model="gpt-image-1",
        prompt="a watercolor fox",
        size="1536x1024",
        quality="low",
        output_format="webp",
    )
    result = raw.parse()
    assert result.data and decode(result.data[0].b64_json).size == (1536, 1024)
    assert decode(result.data[0].b64_json).format == "WEBP"
    assert result.size == "1536x1024" and result.quality == "low"
    assert result.usage and result.usage.output_tokens > 0
    sent = up.openai.requests[before]
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json["model"] == "gpt-image-1" and "response_format" not in sent.json
    assert "x-pixelgate-dropped-params" not in raw.headers
    row = last_usage(up.gw)
    assert row.deployment == "openai-main/gpt-image-1" and row.images == 1 and row.status == 200


def test_prefixed_model_ids_and_dropped_params(up: Upstreams) -> None:
    before = len(up.openai.requests)
    resp = httpx.post(
        up.gw.base_url + "/v1/images/generations",
        headers=up.gw.headers,
        json={
            "model": "openai/gpt-image-2",
            "prompt": "a koi pond",
            "size": "1280x720",
            "response_format": "url",
            "style": "vivid",
        },
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-pixelgate-dropped-params"] == "response_format,style"
    sent = up.openai.requests[before].json
    assert sent["model"] == "gpt-image-2" and sent["size"] == "1280x720"
    assert "response_format" not in sent and "style" not in sent
    url = resp.json()["data"][0]["url"]
    assert url.startswith(up.gw.base_url + "/v1/files/")
    img = Image.open(io.BytesIO(httpx.get(url).content))
    assert img.size == (1280, 720)
    again = client(up).images.generate(model="tokenhub/gpt-image-2", prompt="x", size="1024x1024")
    assert again.data and again.data[0].b64_json


def test_gpt_image_edit_several_images_and_mask(up: Upstreams) -> None:
    before = len(up.openai.requests)
    result = client(up).images.edit(
        model="gpt-image-1",
        image=[
            ("a.png", rgba_png(256, 256), "image/png"),
            ("b.png", rgba_png(128, 128), "image/png"),
        ],
        mask=("m.png", rgba_png(256, 256, alpha=0), "image/png"),
        prompt="put both in a basket",
        input_fidelity="high",
        size="1024x1024",
    )
    assert result.data and decode(result.data[0].b64_json).size == (1024, 1024)
    sent = up.openai.requests[before]
    assert sent.path == "/v1/images/edits"
    assert [f.name for f in sent.files] == ["image[]", "image[]", "mask"]
    assert sent.form is not None and sent.form["input_fidelity"] == ["high"]


def test_gpt_image_2_edit_drops_input_fidelity(up: Upstreams) -> None:
    before = len(up.openai.requests)
    raw = client(up).images.with_raw_response.edit(
        model="gpt-image-2",
        image=("a.png", rgba_png(200, 200), "image/png"),
        prompt="add a hat",
        input_fidelity="high",
    )
    assert raw.headers["x-pixelgate-dropped-params"] == "input_fidelity"
    sent = up.openai.requests[before]
    assert sent.form is not None and "input_fidelity" not in sent.form
    assert [f.name for f in sent.files] == ["image"]


def test_dall_e_3_url_revised_prompt_and_conversion(up: Upstreams) -> None:
    before = len(up.openai.requests)
    result = client(up).images.generate(
        model="dall-e-3",
        prompt="a lighthouse",
        size="1792x1024",
        quality="hd",
        style="natural",
        response_format="url",
        extra_body={"output_format": "webp"},
    )
    sent = up.openai.requests[before].json
    assert sent["response_format"] == "b64_json" and sent["style"] == "natural"
    assert "output_format" not in sent
    assert result.data and result.data[0].revised_prompt
    url = result.data[0].url
    assert url and url.startswith(up.gw.base_url)
    img = Image.open(io.BytesIO(httpx.get(url).content))
    assert (img.format, img.size) == ("WEBP", (1792, 1024))


def test_dall_e_2_edit_and_variation(up: Upstreams) -> None:
    c = client(up)
    edit = c.images.edit(
        model="dall-e-2",
        image=("sq.png", rgba_png(256, 256, alpha=0), "image/png"),
        prompt="a cat",
        size="256x256",
    )
    assert edit.data and decode(edit.data[0].b64_json).size == (256, 256)
    before = len(up.openai.requests)
    variation = c.images.create_variation(  # deprecated in the SDK, still OpenAI's API
        model="dall-e-2",
        image=("sq.png", rgba_png(256, 256), "image/png"),
        n=2,
        size="512x512",
    )
    assert variation.data and len(variation.data) == 2
    assert all(decode(d.b64_json).size == (512, 512) for d in variation.data)
    assert up.openai.requests[before].path == "/v1/images/variations"


def test_azure_deployment(up: Upstreams) -> None:
    before = len(up.azure.requests)
    result = client(up).images.generate(model="gpt-image-1.5", prompt="a fox", size="1024x1536")
    assert result.data and decode(result.data[0].b64_json).size == (1024, 1536)
    sent = up.azure.requests[before]
    assert sent.path == "/openai/deployments/gpt-image-1.5/images/generations"
    assert sent.query["api-version"] == "2025-04-01-preview"
    assert sent.headers["api-key"] == "azure-key" and "authorization" not in sent.headers


def test_xai_generate_edit_and_alias(up: Upstreams) -> None:
    before = len(up.xai.requests)
    raw = client(up).images.with_raw_response.generate(
        model="grok-imagine-image",
        prompt="london stencil",
        n=2,
        size="1024x1024",
        extra_body={"aspect_ratio": "16:9", "resolution": "1k"},
    )
    result = raw.parse()
    assert raw.headers["x-pixelgate-dropped-params"] == "size"
    assert result.data and len(result.data) == 2
    img = decode(result.data[0].b64_json)
    assert img.format == "JPEG" and img.width > img.height  # xAI's own format by default
    sent = up.xai.requests[before].json
    assert sent["aspect_ratio"] == "16:9" and sent["response_format"] == "b64_json"
    assert "size" not in sent
    edit = client(up).images.edit(
        model="grok-imagine-image",
        image=("a.png", image_bytes(300, 200), "image/png"),
        prompt="make it night",
        extra_body={"output_format": "png"},
    )
    assert edit.data and decode(edit.data[0].b64_json).format == "PNG"  # converted by us
    assert up.xai.requests[-1].json["image"]["url"].startswith("data:image/png;base64,")
    pro = client(up).images.generate(model="grok-imagine-image-pro", prompt="x")
    assert pro.data and up.xai.requests[-1].json["model"] == "grok-imagine-image-quality"


def test_openai_compatible_upstream_is_another_pixelgate(up: Upstreams) -> None:
    result = client(up).images.generate(
        model="hub-sandbox", prompt="relayed", size="320x200", response_format="url"
    )
    assert result.data and result.data[0].url
    assert result.data[0].url.startswith(up.gw.base_url)
    img = Image.open(io.BytesIO(httpx.get(result.data[0].url).content))
    assert img.size == (320, 200)
    row = last_usage(up.hub)
    assert row.model == "sandbox-image" and row.status == 200


def test_streaming_generation_relays_partials(up: Upstreams) -> None:
    stream = client(up).images.generate(
        model="gpt-image-1", prompt="a fox", size="1024x1024", stream=True, partial_images=2
    )
    events = list(stream)
    kinds = [e.type for e in events]
    assert kinds == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    final = events[-1]
    assert decode(final.b64_json).size == (1024, 1024)
    assert final.usage is not None and final.usage.total_tokens > 0  # type: ignore[union-attr]
    assert up.openai.requests[-1].json["stream"] is True


def test_streaming_edit_on_the_sandbox(up: Upstreams) -> None:
    stream = client(up).images.edit(
        model="sandbox-image",
        image=("a.png", image_bytes(96, 64), "image/png"),
        prompt="x",
        stream=True,
        partial_images=1,
    )
    kinds = [e.type for e in stream]
    assert kinds == ["image_edit.partial_image", "image_edit.completed"]
    assert last_usage(up.gw).images == 1


def test_stream_error_after_first_byte_becomes_error_event(up: Upstreams) -> None:
    up.openai.stream_error_after = 1
    try:
        with pytest.raises(openai.APIError):
            list(
                client(up).images.generate(
                    model="gpt-image-1", prompt="x", stream=True, partial_images=2
                )
            )
    finally:
        up.openai.stream_error_after = None
    assert last_usage(up.gw).error_code is not None


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("gpt-image-1", "1024x1024"),
        ("gpt-image-1-mini", "1024x1536"),
        ("gpt-image-1.5", "1536x1024"),
        ("gpt-image-2", "2048x1152"),
        ("dall-e-2", "512x512"),
        ("dall-e-3", "1024x1792"),
        ("grok-imagine-image", None),
        ("grok-imagine-image-quality", None),
    ],
)
def test_every_model_generates_through_the_sdk(up: Upstreams, model: str, size: str | None) -> None:
    kwargs: dict[str, str] = {"size": size} if size else {}
    result = client(up).images.generate(model=model, prompt="a red kite", **kwargs)  # type: ignore[arg-type]
    assert result.data and len(result.data) == 1
    img = decode(result.data[0].b64_json)
    if size:
        assert img.size == tuple(int(v) for v in size.split("x"))
