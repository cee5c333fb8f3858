"""Self-tests of the xAI image fake, driven by the `openai` SDK (xAI is SDK-compatible)."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import openai
import orjson
import pytest
from openai import OpenAI
from openai.types import ImagesResponse
from PIL import Image

from tests.fakes.images import image_bytes
from tests.fakes.server import serve
from tests.fakes.xai import XaiFakeState, create_app

AUTH = {"Authorization": "Bearer xai-test"}


class Fake(NamedTuple):
    state: XaiFakeState
    base: str

    def client(self, key: str = "xai-test") -> OpenAI:
        return OpenAI(api_key=key, base_url=f"{self.base}/v1", max_retries=0)

    def post(self, op: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("headers", AUTH)
        return httpx.post(f"{self.base}/v1/images/{op}", timeout=10, **kwargs)


@pytest.fixture(scope="module")
def served() -> Iterator[Fake]:
    state = XaiFakeState()
    with serve(create_app(state)) as base:
        yield Fake(state, base)


@pytest.fixture
def fake(served: Fake) -> Fake:
    fresh = XaiFakeState()
    for f in dataclasses.fields(fresh):
        setattr(served.state, f.name, getattr(fresh, f.name))
    return served


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def data_uri(w: int, h: int, fmt: str = "PNG") -> str:
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(image_bytes(w, h, fmt)).decode()}"


@pytest.mark.parametrize(
    ("extra", "size"),
    [
        ({}, (1024, 1024)),
        ({"aspect_ratio": "16:9"}, (1360, 768)),
        ({"aspect_ratio": "9:16", "resolution": "1k"}, (768, 1360)),
        ({"aspect_ratio": "1:1", "resolution": "2k"}, (2048, 2048)),
        ({"aspect_ratio": "auto"}, (1024, 1024)),
    ],
)
def test_generate_b64_sizes(fake: Fake, extra: dict[str, str], size: tuple[int, int]) -> None:
    resp = fake.client().images.generate(
        model="grok-imagine-image", prompt="London", n=2, response_format="b64_json",
        extra_body=extra,
    )  # fmt: skip
    assert resp.data is not None and len(resp.data) == 2
    for item in resp.data:
        img = decode(item.b64_json)
        assert (img.format, img.size) == ("JPEG", size)
        assert (item.model_extra or {})["mime_type"] == "image/jpeg"
        assert item.revised_prompt is None
    assert fake.state.requests[-1].json["n"] == 2
    ticks = resp.model_dump()["usage"]["cost_in_usd_ticks"]
    assert ticks == 2 * 200_000_000


def test_generate_url_default_and_download(fake: Fake) -> None:
    resp = fake.client().images.generate(model="grok-imagine-image-quality", prompt="x")
    assert resp.data is not None and resp.data[0].url is not None
    got = httpx.get(resp.data[0].url)
    assert got.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(got.content)).size == (1024, 1024)
    fake.state.files.expire_links = True
    assert httpx.get(resp.data[0].url).status_code == 403


def test_legacy_grok_2_image(fake: Fake) -> None:
    resp = fake.client().images.generate(model="grok-2-image", prompt="a cat")
    assert resp.data is not None and resp.data[0].revised_prompt
    assert Image.open(io.BytesIO(httpx.get(resp.data[0].url or "").content)).size == (1024, 768)


def test_quality_honoured_by_2_0(fake: Fake) -> None:
    resp = fake.client().images.generate(
        model="grok-imagine-image-2.0", prompt="x", quality="high", response_format="b64_json"
    )
    assert resp.data is not None and decode(resp.data[0].b64_json).size == (1024, 1024)


def test_edit_single_image_follows_input_ratio(fake: Fake) -> None:
    body = {
        "model": "grok-imagine-image",
        "prompt": "make it night",
        "image": {"url": data_uri(600, 400)},
        "response_format": "b64_json",
    }
    resp = fake.client().post("/images/edits", body=body, cast_to=ImagesResponse)
    assert resp.data is not None
    w, h = decode(resp.data[0].b64_json).size
    assert (w % 16, h % 16) == (0, 0) and abs(w / h - 1.5) < 0.05
    assert fake.state.requests[-1].json["image"]["url"].startswith("data:image/png;base64,<")
    ticks = resp.model_dump()["usage"]["cost_in_usd_ticks"]
    assert ticks == 200_000_000 + 20_000_000


def test_edit_several_images_and_mask(fake: Fake) -> None:
    body = {
        "prompt": "Make <IMAGE_0> wear the hat from <IMAGE_1>",
        "images": [{"url": "https://example.com/a.jpg"}, {"url": data_uri(64, 64, "WEBP")}],
        "mask": {"url": data_uri(64, 64)},
        "aspect_ratio": "3:2",
        "n": 2,
    }
    resp = fake.post("edits", json=body)
    assert resp.status_code == 200, resp.text
    payload = resp.json()
    assert len(payload["data"]) == 2 and payload["usage"]["cost_in_usd_ticks"] == 440_000_000
    got = Image.open(io.BytesIO(httpx.get(payload["data"][0]["url"]).content))
    assert got.size == (1248, 832)


REJECTIONS = [
    ("generations", {"prompt": "x", "size": "1024x1024"}, 400, "Argument not supported: size"),
    ("generations", {"prompt": "x", "style": "vivid"}, 400, "Argument not supported: style"),
    ("generations", {"prompt": "x", "quality": "high"}, 400, "Argument not supported: quality"),
    (
        "generations",
        {"model": "grok-2-image", "prompt": "x", "aspect_ratio": "1:1"},
        400,
        "Argument not supported: aspect_ratio",
    ),
    ("generations", {"prompt": "x", "output_format": "png"}, 400, "Argument not supported"),
    ("generations", {"model": "grok-9", "prompt": "x"}, 404, "does not exist"),
    ("generations", {"prompt": "x", "n": 0}, 400, "between 1 and 10"),
    ("generations", {"prompt": "x", "n": 11}, 400, "between 1 and 10"),
    ("generations", {"prompt": "x", "response_format": "png"}, 400, "response_format"),
    ("generations", {"prompt": "x", "aspect_ratio": "5:4"}, 400, "aspect_ratio"),
    ("generations", {"prompt": "x", "resolution": "2K"}, 400, "resolution"),
    (
        "generations",
        {"model": "grok-imagine-image-2.0", "prompt": "x", "quality": "ultra"},
        400,
        "quality",
    ),
    ("generations", {"prompt": "  "}, 400, "empty"),
    ("edits", {"prompt": "x"}, 400, "input image is required"),
    (
        "edits",
        {"prompt": "x", "image": {"url": "https://a/b.png"}, "images": [{"url": "https://a"}]},
        400,
        "Only one of",
    ),
    ("edits", {"prompt": "x", "images": [{"url": "https://a/b.png"}] * 4}, 400, "between 1 and 3"),
    ("edits", {"prompt": "x", "image": {"url": "ftp://a/b.png"}}, 400, "Invalid image url"),
    ("edits", {"prompt": "x", "image": {"url": "data:image/png;base64,@@"}}, 400, "base64"),
    (
        "edits",
        {
            "prompt": "x",
            "image": {"url": "data:image/png;base64," + base64.b64encode(b"xx").decode()},
        },
        400,
        "corrupt",
    ),
    (
        "edits",
        {"prompt": "x", "image": {"url": data_uri(8, 8, "GIF")}},
        400,
        "Unsupported image format",
    ),
    (
        "edits",
        {"model": "grok-2-image", "prompt": "x", "image": {"url": "https://a/b.png"}},
        400,
        "does not support image editing",
    ),
]


@pytest.mark.parametrize(("op", "body", "status", "text"), REJECTIONS)
def test_rejections_use_xai_body(
    fake: Fake, op: str, body: dict[str, Any], status: int, text: str
) -> None:
    resp = fake.post(op, json=body)
    assert resp.status_code == status, resp.text
    payload = resp.json()
    assert set(payload) == {"code", "error"} and payload["code"] == str(status)
    assert text in payload["error"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"n": 1}, "missing field `prompt`"),
        ({"prompt": "x", "n": "2"}, 'n: invalid type: string "2", expected u32'),
        ({"prompt": "x", "n": -1}, "n: invalid value: integer `-1`, expected u32"),
        ({"prompt": 7}, "prompt: invalid type: integer `7`, expected a string"),
        ({"prompt": "x", "image": "https://a/b.png"}, "image: invalid type"),
        ({"prompt": "x", "image": {"uri": "https://a/b.png"}}, "image: missing field `url`"),
        ([1, 2], "invalid type: sequence"),
    ],
)
def test_schema_mismatch_is_422_plain_text(fake: Fake, body: Any, text: str) -> None:
    resp = fake.post("edits", json=body)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("text/plain")
    assert resp.text.startswith("Failed to deserialize the JSON body into the target type: ")
    assert text in resp.text


def test_auth_content_type_and_syntax(fake: Fake) -> None:
    wrong = fake.post("generations", json={"prompt": "x"}, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 400 and "Incorrect API key provided" in wrong.json()["error"]
    assert fake.post("generations", json={"prompt": "x"}, headers={}).status_code == 400
    with pytest.raises(openai.BadRequestError) as info:
        fake.client("xai-bad").images.generate(prompt="x")
    assert "Incorrect API key" in info.value.response.json()["error"]
    form = fake.post("edits", data={"prompt": "x"}, files={"image": ("a.png", b"x")})
    assert form.status_code == 415
    syntax = fake.post(
        "generations", content=b"{oops", headers={**AUTH, "content-type": "application/json"}
    )
    assert syntax.status_code == 400 and syntax.text.startswith("Failed to parse the request body")


def test_moderation_block(fake: Fake) -> None:
    fake.state.moderation_block_words = {"forbidden"}
    resp = fake.post("generations", json={"prompt": "Forbidden thing"})
    assert resp.status_code == 400 and resp.json()["code"] == "400"


@pytest.mark.parametrize("fault", ["status_500", "status_503", "status_401", "status_403"])
def test_status_faults(fake: Fake, fault: str) -> None:
    fake.state.faults.queue(fault)
    resp = fake.post("generations", json={"prompt": "x"})
    assert resp.status_code == int(fault[-3:])
    assert resp.json() == {"code": fault[-3:], "error": f"fake upstream fault {fault[-3:]}"}
    assert fake.post("generations", json={"prompt": "x"}).status_code == 200


def test_429_retry_after(fake: Fake) -> None:
    fake.state.faults.retry_after = 5
    fake.state.faults.queue("status_429")
    resp = fake.post("generations", json={"prompt": "x"})
    assert resp.status_code == 429 and resp.headers["retry-after"] == "5"
    fake.state.faults.queue("status_429")
    with pytest.raises(openai.RateLimitError):
        fake.client().images.generate(prompt="x")


def test_timeout_malformed_truncated_and_drip(fake: Fake) -> None:
    body = {"prompt": "x", "response_format": "b64_json"}
    fake.state.faults.hang_seconds = 1.0
    fake.state.faults.drip_delay = 0.002
    fake.state.faults.queue("timeout", "malformed_json", "truncated", "slow_drip")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fake.base}/v1/images/generations", json=body, headers=AUTH, timeout=0.2)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(fake.post("generations", json=body).content)
    with pytest.raises(httpx.RemoteProtocolError):
        fake.post("generations", json=body)
    url = f"{fake.base}/v1/images/generations"
    with httpx.stream("POST", url, json=body, headers=AUTH) as resp:
        chunks = list(resp.iter_raw())
    assert len(chunks) > 1
    item = orjson.loads(b"".join(chunks))["data"][0]
    assert decode(item["b64_json"]).size == (1024, 1024)
    assert len(fake.state.requests) == 4  # every faulted request was recorded
