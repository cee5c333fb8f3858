"""The official `openai` SDK against a real gateway process on the embedded default."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from tests.fakes.images import image_bytes
from tests.support.gateway import Gateway


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url + "/v1", api_key=gw.key, max_retries=0)


def decode(b64: str | None) -> Image.Image:
    assert b64
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def test_generate_b64_default(gateway: Gateway) -> None:
    result = client(gateway).images.generate(
        model="sandbox-image", prompt="a lighthouse at dusk", size="640x480"
    )
    assert result.data is not None and len(result.data) == 1
    img = decode(result.data[0].b64_json)
    assert (img.format, img.size) == ("PNG", (640, 480))
    assert result.size == "640x480"
    assert result.output_format == "png"
    assert result.usage is not None and result.usage.input_tokens > 0


@pytest.mark.parametrize(("fmt", "pil"), [("jpeg", "JPEG"), ("webp", "WEBP"), ("png", "PNG")])
def test_generate_formats_and_n(gateway: Gateway, fmt: str, pil: str) -> None:
    result = client(gateway).images.generate(
        model="sandbox-image",
        prompt="three apples",
        n=3,
        size="256x320",
        output_format=fmt,  # type: ignore[arg-type]
        output_compression=70 if fmt != "png" else None,  # type: ignore[arg-type]
    )
    assert result.data is not None and len(result.data) == 3
    for item in result.data:
        img = decode(item.b64_json)
        assert (img.format, img.size) == (pil, (256, 320))


def test_transparent_background(gateway: Gateway) -> None:
    result = client(gateway).images.generate(
        model="sandbox-image", prompt="a sticker", size="128x128", background="transparent"
    )
    assert result.data is not None
    img = decode(result.data[0].b64_json)
    assert img.mode == "RGBA"
    assert img.getchannel("A").getextrema()[0] == 0
    assert result.background == "transparent"


def test_generate_url_is_signed_and_served(gateway: Gateway) -> None:
    result = client(gateway).images.generate(
        model="sandbox-image", prompt="a harbour", size="300x200", response_format="url"
    )
    assert result.data is not None
    url = result.data[0].url
    assert url and url.startswith(gateway.base_url + "/v1/files/") and "sig=" in url
    assert result.data[0].b64_json is None
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(resp.content)).size == (300, 200)
    tampered = url.replace("sig=", "sig=x")
    assert httpx.get(tampered).status_code == 403
    file_part, query = url.split("?", 1)
    exp = int(dict(p.split("=", 1) for p in query.split("&"))["exp"])
    later = url.replace(f"exp={exp}", f"exp={exp + 1}")
    assert httpx.get(later).status_code == 403
    assert httpx.get(file_part).status_code == 403


def test_same_inputs_same_bytes(gateway: Gateway) -> None:
    c = client(gateway)
    kwargs = {"model": "sandbox-image", "prompt": "determinism", "size": "200x200"}
    a = c.images.generate(**kwargs, extra_body={"seed": 7})  # type: ignore[arg-type]
    b = c.images.generate(**kwargs, extra_body={"seed": 7})  # type: ignore[arg-type]
    other = c.images.generate(**kwargs, extra_body={"seed": 8})  # type: ignore[arg-type]
    assert a.data and b.data and other.data
    assert a.data[0].b64_json == b.data[0].b64_json
    assert a.data[0].b64_json != other.data[0].b64_json


def test_edit_one_image(gateway: Gateway) -> None:
    src = image_bytes(200, 150, "PNG")
    result = client(gateway).images.edit(
        model="sandbox-image",
        image=("photo.png", src, "image/png"),
        prompt="add a red beret",
    )
    assert result.data is not None
    img = decode(result.data[0].b64_json)
    assert img.size == (200, 150)


def test_edit_several_images_url(gateway: Gateway) -> None:
    images = [
        ("a.png", image_bytes(160, 160, "PNG"), "image/png"),
        ("b.jpg", image_bytes(90, 60, "JPEG", (10, 200, 10, 255)), "image/jpeg"),
        ("c.webp", image_bytes(50, 80, "WEBP", (10, 10, 200, 255)), "image/webp"),
    ]
    result = client(gateway).images.edit(
        model="sandbox-image",
        image=images,
        prompt="put them in a gift basket",
        size="320x320",
        response_format="url",
    )
    assert result.data is not None and result.data[0].url
    resp = httpx.get(result.data[0].url)
    assert Image.open(io.BytesIO(resp.content)).size == (320, 320)


def test_edit_with_mask_only_changes_masked_area(gateway: Gateway) -> None:
    width, height = 128, 128
    src = image_bytes(width, height, "PNG", (40, 40, 40, 255))
    mask_img = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask_img.paste((0, 0, 0, 0), (0, 0, width // 2, height))  # left half editable
    buf = io.BytesIO()
    mask_img.save(buf, "PNG")
    c = client(gateway)
    changed_left = False
    for prompt in ("paint it", "paint it again", "and again"):
        result = c.images.edit(
            model="sandbox-image",
            image=("src.png", src, "image/png"),
            mask=("mask.png", buf.getvalue(), "image/png"),
            prompt=prompt,
        )
        assert result.data is not None
        out = decode(result.data[0].b64_json).convert("RGBA")
        right = out.crop((width // 2, 0, width, height))
        assert right.getcolors() == [((width // 2) * height, (40, 40, 40, 255))]
        left = out.crop((0, 0, width // 2, height))
        changed_left = changed_left or len(left.getcolors(maxcolors=100000) or []) > 1
    assert changed_left


def test_models_list(gateway: Gateway) -> None:
    models = client(gateway).models.list()
    ids = [m.id for m in models.data]
    assert "sandbox-image" in ids
    assert all(m.object == "model" for m in models.data)


def test_x_api_key_header_works(gateway: Gateway) -> None:
    resp = httpx.get(gateway.base_url + "/v1/models", headers={"X-API-Key": gateway.key})
    assert resp.status_code == 200


def test_bad_key_is_401_in_openai_shape(gateway: Gateway) -> None:
    c = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="pg-nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        c.images.generate(model="sandbox-image", prompt="x")
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "invalid_api_key"


def test_health_and_ready(gateway: Gateway) -> None:
    assert httpx.get(gateway.base_url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gateway.base_url + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
