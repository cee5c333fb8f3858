"""Self-tests of the OpenAI Images fake, driven by the official `openai` SDK over loopback."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from openai import APIError, OpenAI
from PIL import Image

from tests.fakes.images import image_b64, image_bytes
from tests.fakes.openai import OpenAIFakeState, create_app
from tests.fakes.server import serve

KEY = "sk-test"


class Fake(NamedTuple):
    state: OpenAIFakeState
    base: str

    def client(self, **kwargs: Any) -> OpenAI:
        return OpenAI(api_key=KEY, base_url=f"{self.base}/v1", max_retries=0, **kwargs)


@pytest.fixture(scope="module")
def served() -> Iterator[Fake]:
    state = OpenAIFakeState()
    with serve(create_app(state)) as base:
        yield Fake(state, base)


@pytest.fixture
def fake(served: Fake) -> Fake:
    fresh = OpenAIFakeState()
    for f in dataclasses.fields(fresh):
        setattr(served.state, f.name, getattr(fresh, f.name))
    return served


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def png(w: int = 64, h: int = 64, fmt: str = "PNG") -> tuple[str, bytes, str]:
    return (f"img.{fmt.lower()}", image_bytes(w, h, fmt), f"image/{fmt.lower()}")


def test_generate_gpt_image_webp_echo_and_usage(fake: Fake) -> None:
    resp = fake.client().images.generate(
        model="gpt-image-1",
        prompt="A watercolor fox in a snowy forest",
        size="1536x1024",
        quality="low",
        background="opaque",
        output_format="webp",
        output_compression=80,
        n=2,
    )
    assert resp.data is not None and len(resp.data) == 2
    for item in resp.data:
        img = decode(item.b64_json)
        assert (img.format, img.size) == ("WEBP", (1536, 1024))
        assert item.url is None
    assert (resp.background, resp.output_format, resp.quality, resp.size) == (
        "opaque",
        "webp",
        "low",
        "1536x1024",
    )
    assert resp.usage is not None
    assert resp.usage.output_tokens == 2 * 400
    assert resp.usage.input_tokens_details.text_tokens == 9
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    body = fake.state.requests[-1].json
    assert body["model"] == "gpt-image-1" and body["output_compression"] == 80


def test_generate_auto_resolves_to_1024_png_medium_opaque(fake: Fake) -> None:
    resp = fake.client().images.generate(model="gpt-image-1.5", prompt="a cat")
    assert resp.data is not None
    img = decode(resp.data[0].b64_json)
    assert (img.format, img.size) == ("PNG", (1024, 1024))
    assert (resp.size, resp.quality, resp.background, resp.output_format) == (
        "1024x1024",
        "medium",
        "opaque",
        "png",
    )
    assert resp.usage is not None and resp.usage.output_tokens == 1056


def test_generate_transparent_png_has_alpha(fake: Fake) -> None:
    resp = fake.client().images.generate(
        model="gpt-image-1-mini", prompt="sticker", background="transparent", size="1024x1536"
    )
    assert resp.data is not None
    img = decode(resp.data[0].b64_json)
    assert (img.mode, img.size) == ("RGBA", (1024, 1536))
    assert img.getpixel((0, 0))[3] == 0  # type: ignore[index]
    assert resp.background == "transparent"


def test_generate_jpeg(fake: Fake) -> None:
    resp = fake.client().images.generate(
        model="gpt-image-1", prompt="a mug", output_format="jpeg", output_compression=50
    )
    assert resp.data is not None
    assert decode(resp.data[0].b64_json).format == "JPEG"
    assert resp.output_format == "jpeg"


@pytest.mark.parametrize(
    ("size", "quality", "tokens"),
    [("1024x1024", "high", 7024), ("1536x864", "low", None), ("3840x2160", "medium", None)],
)
def test_generate_gpt_image_2_flexible_sizes(
    fake: Fake, size: str, quality: Any, tokens: int | None
) -> None:
    resp = fake.client().images.generate(
        model="gpt-image-2", prompt="a skyline", size=size, quality=quality
    )
    assert resp.data is not None
    w, h = (int(x) for x in size.split("x"))
    assert decode(resp.data[0].b64_json).size == (w, h)
    assert resp.size == size
    assert resp.usage is not None and resp.usage.output_tokens > 0
    if tokens is not None:
        assert resp.usage.output_tokens == tokens


def test_default_model_is_dalle2_unless_gpt_only_field(fake: Fake) -> None:
    client = fake.client()
    plain = client.images.generate(prompt="a boat", size="256x256")
    assert plain.data is not None and plain.data[0].url is not None and plain.usage is None
    gpt = client.images.generate(prompt="a boat", output_format="webp")
    assert gpt.data is not None and decode(gpt.data[0].b64_json).format == "WEBP"
    assert gpt.usage is not None


def test_dalle3_url_revised_prompt_download_and_expiry(fake: Fake) -> None:
    resp = fake.client().images.generate(
        model="dall-e-3", prompt="A lighthouse at dusk", size="1792x1024", quality="hd",
        style="natural",
    )  # fmt: skip
    assert resp.data is not None and len(resp.data) == 1
    item = resp.data[0]
    assert item.revised_prompt and "lighthouse" in item.revised_prompt
    assert item.b64_json is None and item.url is not None
    assert resp.usage is None and resp.size is None
    got = httpx.get(item.url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(got.content))
    assert (img.format, img.size) == ("PNG", (1792, 1024))
    fake.state.files.expire_links = True
    expired = httpx.get(item.url)
    assert expired.status_code == 403 and "AuthenticationFailed" in expired.text
    missing = httpx.get(f"{fake.base}/fake-files/img-nope.png")
    assert missing.status_code == 404 and "BlobNotFound" in missing.text


def test_link_ttl_expiry(fake: Fake) -> None:
    fake.state.files.link_ttl_seconds = 0.0
    resp = fake.client().images.generate(model="dall-e-2", prompt="x", size="256x256")
    assert resp.data is not None and resp.data[0].url is not None
    assert httpx.get(resp.data[0].url).status_code == 403


def test_dalle2_b64_several(fake: Fake) -> None:
    resp = fake.client().images.generate(
        model="dall-e-2", prompt="a tree", n=3, size="512x512", response_format="b64_json"
    )
    assert resp.data is not None and len(resp.data) == 3
    for item in resp.data:
        assert decode(item.b64_json).size == (512, 512)
        assert item.revised_prompt is None


def test_edit_single_image_sends_image_field(fake: Fake) -> None:
    resp = fake.client().images.edit(
        model="gpt-image-1", prompt="add a hat", image=png(100, 80), size="1024x1536"
    )
    assert resp.data is not None
    assert decode(resp.data[0].b64_json).size == (1024, 1536)
    record = fake.state.requests[-1]
    assert record.path == "/v1/images/edits"
    assert [(p.name, p.filename, p.size > 0) for p in record.files] == [("image", "img.png", True)]
    assert record.form is not None and record.form["prompt"] == ["add a hat"]
    assert resp.usage is not None and resp.usage.input_tokens_details.image_tokens == 255


def test_edit_several_images_sends_bracket_fields(fake: Fake) -> None:
    resp = fake.client().images.edit(
        model="gpt-image-1.5",
        prompt="Put both products in a gift basket",
        image=[png(64, 64), png(32, 48, "JPEG"), png(40, 40, "WEBP")],
        quality="high",
        input_fidelity="high",
        n=2,
    )
    assert resp.data is not None and len(resp.data) == 2
    record = fake.state.requests[-1]
    assert [p.name for p in record.files] == ["image[]", "image[]", "image[]"]
    assert [p.content_type for p in record.files] == ["image/png", "image/jpeg", "image/webp"]
    assert resp.usage is not None and resp.usage.input_tokens_details.image_tokens == 3 * 255


def test_edit_with_mask(fake: Fake) -> None:
    mask = ("mask.png", image_bytes(64, 64, "PNG", (0, 0, 0, 0)), "image/png")
    resp = fake.client().images.edit(
        model="gpt-image-1", prompt="fill the hole", image=png(64, 64), mask=mask
    )
    assert resp.data is not None and decode(resp.data[0].b64_json).format == "PNG"
    assert [p.name for p in fake.state.requests[-1].files] == ["image", "mask"]


def test_dalle2_edit_square_png(fake: Fake) -> None:
    resp = fake.client().images.edit(
        model="dall-e-2", prompt="sunlit lounge", image=png(256, 256), size="256x256"
    )
    assert resp.data is not None and resp.data[0].url is not None
    assert Image.open(io.BytesIO(httpx.get(resp.data[0].url).content)).size == (256, 256)


def test_edit_json_form_with_data_url_url_and_file_id(fake: Fake) -> None:
    body = {
        "model": "gpt-image-1.5",
        "prompt": "Replace the background with a snowy mountain scene",
        "images": [
            {"image_url": f"data:image/png;base64,{image_b64(96, 96)}"},
            {"image_url": "https://example.com/source.png"},
            {"file_id": "file-abc123"},
        ],
        "mask": {"image_url": f"data:image/png;base64,{image_b64(96, 96)}"},
        "output_format": "png",
        "output_compression": 100,
        "moderation": "low",
    }
    resp = httpx.post(
        f"{fake.base}/v1/images/edits", json=body, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert resp.status_code == 200, resp.text
    payload = resp.json()
    assert decode(payload["data"][0]["b64_json"]).size == (1024, 1024)
    recorded = fake.state.requests[-1].json
    assert recorded["images"][0]["image_url"].startswith("data:image/png;base64,<")
    assert recorded["images"][1]["image_url"] == "https://example.com/source.png"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_variations(fake: Fake) -> None:
    client = fake.client()
    resp = client.images.create_variation(image=png(128, 128), n=2, size="512x512")
    assert resp.data is not None and len(resp.data) == 2
    for item in resp.data:
        assert item.url is not None
        got = Image.open(io.BytesIO(httpx.get(item.url).content))
        assert (got.format, got.size) == ("PNG", (512, 512))
    b64 = client.images.create_variation(image=png(64, 64), response_format="b64_json")
    assert b64.data is not None and decode(b64.data[0].b64_json).size == (1024, 1024)
    assert fake.state.requests[-1].files[0].name == "image"


def test_stream_generation_partial_images(fake: Fake) -> None:
    stream = fake.client().images.generate(
        model="gpt-image-1",
        prompt="a lantern",
        stream=True,
        partial_images=2,
        size="1536x1024",
        output_format="webp",
    )
    events = list(stream)
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [getattr(e, "partial_image_index", None) for e in events] == [0, 1, None]
    for event in events:
        img = decode(event.b64_json)
        assert (img.format, img.size) == ("WEBP", (1536, 1024))
        assert event.size == "1536x1024" and event.quality == "auto"
    final = events[-1]
    assert final.type == "image_generation.completed"
    assert final.usage.output_tokens == 1568 + 2 * 100
    assert final.usage.input_tokens_details.text_tokens == 3


def test_stream_edit_events_and_n(fake: Fake) -> None:
    stream = fake.client().images.edit(
        model="gpt-image-1", prompt="paint it", image=png(), stream=True, partial_images=1, n=2
    )
    types = [e.type for e in stream]
    assert types == ["image_edit.partial_image", "image_edit.completed"] * 2


def test_stream_partial_zero_cap_done_marker(fake: Fake) -> None:
    client = fake.client()
    only_final = list(client.images.generate(model="gpt-image-1", prompt="x", stream=True))
    assert [e.type for e in only_final] == ["image_generation.completed"]
    fake.state.partial_images_cap = 1
    fake.state.stream_done_marker = True
    capped = list(
        client.images.generate(model="gpt-image-1", prompt="x", stream=True, partial_images=3)
    )
    assert [e.type for e in capped] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    raw = httpx.post(
        f"{fake.base}/v1/images/generations",
        json={"model": "gpt-image-1", "prompt": "x", "stream": True},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.startswith("event: image_generation.completed\ndata: {")
    assert raw.text.endswith("data: [DONE]\n\n")


def test_stream_mid_stream_error_event(fake: Fake) -> None:
    fake.state.stream_error_after = 1
    stream = fake.client().images.generate(
        model="gpt-image-1", prompt="x", stream=True, partial_images=2
    )
    seen = []
    with pytest.raises(APIError, match="server had an error"):
        for event in stream:
            seen.append(event.type)
    assert seen == ["image_generation.partial_image"]


def test_requests_record_headers_and_never_file_bytes(fake: Fake) -> None:
    fake.client(default_headers={"OpenAI-Project": "proj_1"}).images.edit(
        model="gpt-image-1", prompt="x", image=png(300, 300)
    )
    record = fake.state.requests[-1]
    assert record.method == "POST"
    assert record.headers["authorization"] == f"Bearer {KEY}"
    assert record.headers["openai-project"] == "proj_1"
    assert record.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert all(isinstance(v, str) for values in (record.form or {}).values() for v in values)
    assert dataclasses.asdict(record.files[0]).keys() == {
        "name",
        "filename",
        "content_type",
        "size",
    }
