"""Self-tests of the OpenAI Images fake: every rejection rule and every fault switch (raw HTTP)."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import openai
import orjson
import pytest
from PIL import Image

from tests.fakes.images import image_b64, image_bytes
from tests.fakes.openai import OpenAIFakeState, create_app
from tests.fakes.server import serve

AUTH = {"Authorization": "Bearer sk-test"}


class Fake(NamedTuple):
    state: OpenAIFakeState
    base: str

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("headers", AUTH)
        return httpx.post(f"{self.base}/v1/images/{path}", timeout=10, **kwargs)


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


def file(w: int = 64, h: int = 64, fmt: str = "PNG", name: str = "image") -> tuple[str, Any]:
    return (name, (f"f.{fmt.lower()}", image_bytes(w, h, fmt), f"image/{fmt.lower()}"))


def rgb_png(w: int = 64, h: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


def error_of(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return dict(body["error"])


GEN = [
    ({"model": "dall-e-9", "prompt": "x"}, 404, "model_not_found", "model"),
    ({"model": "gpt-image-1"}, 400, "missing_required_parameter", "prompt"),
    ({"model": "gpt-image-1", "prompt": ""}, 400, "empty_string", "prompt"),
    ({"model": "gpt-image-1", "prompt": 5}, 400, "invalid_type", "prompt"),
    ({"model": "dall-e-2", "prompt": "x" * 1001}, 400, "string_above_max_length", "prompt"),
    ({"model": "dall-e-3", "prompt": "x" * 4001}, 400, "string_above_max_length", "prompt"),
    ({"model": "gpt-image-1", "prompt": "x" * 32001}, 400, "string_above_max_length", "prompt"),
    ({"model": "dall-e-2", "prompt": "x", "size": "1024x1536"}, 400, "invalid_value", "size"),
    ({"model": "dall-e-3", "prompt": "x", "size": "512x512"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-1", "prompt": "x", "size": "1792x1024"}, 400, "invalid_value", "size"),
    (
        {"model": "gpt-image-1-mini", "prompt": "x", "size": "2048x2048"},
        400,
        "invalid_value",
        "size",
    ),
    ({"model": "gpt-image-1.5", "prompt": "x", "size": "1536x864"}, 400, "invalid_value", "size"),
    ({"model": "dall-e-3", "prompt": "x", "size": "auto"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-2", "prompt": "x", "size": "1000x1000"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-2", "prompt": "x", "size": "3856x2160"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-2", "prompt": "x", "size": "3072x1008"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-2", "prompt": "x", "size": "768x768"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-2", "prompt": "x", "size": "3840x2176"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-2", "prompt": "x", "size": "big"}, 400, "invalid_value", "size"),
    ({"model": "gpt-image-1", "prompt": "x", "n": 0}, 400, "integer_below_min_value", "n"),
    ({"model": "gpt-image-1", "prompt": "x", "n": 11}, 400, "integer_above_max_value", "n"),
    ({"model": "gpt-image-1", "prompt": "x", "n": "2"}, 400, "invalid_type", "n"),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, 400, "invalid_value", "n"),
    ({"model": "gpt-image-1", "prompt": "x", "quality": "hd"}, 400, "invalid_value", "quality"),
    ({"model": "dall-e-3", "prompt": "x", "quality": "high"}, 400, "invalid_value", "quality"),
    ({"model": "dall-e-2", "prompt": "x", "quality": "hd"}, 400, "invalid_value", "quality"),
    (
        {"model": "gpt-image-1", "prompt": "x", "response_format": "b64_json"},
        400,
        "unknown_parameter",
        "response_format",
    ),
    (
        {"model": "dall-e-3", "prompt": "x", "response_format": "png"},
        400,
        "invalid_value",
        "response_format",
    ),
    (
        {
            "model": "gpt-image-1",
            "prompt": "x",
            "background": "transparent",
            "output_format": "jpeg",
        },
        400,
        "invalid_value",
        "background",
    ),
    (
        {"model": "gpt-image-1", "prompt": "x", "background": "clear"},
        400,
        "invalid_value",
        "background",
    ),
    (
        {"model": "gpt-image-1", "prompt": "x", "output_format": "gif"},
        400,
        "invalid_value",
        "output_format",
    ),
    (
        {"model": "gpt-image-1", "prompt": "x", "output_compression": 50},
        400,
        "invalid_value",
        "output_compression",
    ),
    (
        {"model": "gpt-image-1", "prompt": "x", "output_format": "jpeg", "output_compression": 101},
        400,
        "integer_above_max_value",
        "output_compression",
    ),
    (
        {"model": "gpt-image-1", "prompt": "x", "stream": True, "partial_images": 4},
        400,
        "integer_above_max_value",
        "partial_images",
    ),
    (
        {"model": "gpt-image-1", "prompt": "x", "moderation": "off"},
        400,
        "invalid_value",
        "moderation",
    ),
    ({"model": "gpt-image-1", "prompt": "x", "style": "vivid"}, 400, "unknown_parameter", "style"),
    ({"model": "dall-e-2", "prompt": "x", "style": "vivid"}, 400, "unknown_parameter", "style"),
    ({"model": "dall-e-3", "prompt": "x", "style": "anime"}, 400, "invalid_value", "style"),
    ({"model": "dall-e-3", "prompt": "x", "stream": True}, 400, "unknown_parameter", "stream"),
    (
        {"model": "dall-e-3", "prompt": "x", "output_format": "png"},
        400,
        "unknown_parameter",
        "output_format",
    ),
    (
        {"model": "gpt-image-1", "prompt": "x", "input_fidelity": "high"},
        400,
        "unknown_parameter",
        "input_fidelity",
    ),
    ({"model": "gpt-image-1", "prompt": "x", "foo": 1}, 400, "unknown_parameter", "foo"),
    ({"model": "chatgpt-image-latest", "prompt": "x"}, 400, "invalid_value", "model"),
]


@pytest.mark.parametrize(("body", "status", "code", "param"), GEN)
def test_generation_rejections(
    fake: Fake, body: dict[str, Any], status: int, code: str, param: str
) -> None:
    resp = fake.post("generations", json=body)
    assert resp.status_code == status
    err = error_of(resp)
    assert (err["code"], err["param"], err["type"]) == (code, param, "invalid_request_error")
    assert resp.headers["x-request-id"].startswith("req_")


def test_auth_rejections(fake: Fake) -> None:
    body = {"model": "gpt-image-1", "prompt": "x"}
    missing = fake.post("generations", json=body, headers={})
    assert missing.status_code == 401 and error_of(missing)["code"] is None
    wrong = fake.post("generations", json=body, headers={"Authorization": "Bearer sk-nope"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="sk-bad", base_url=f"{fake.base}/v1", max_retries=0).images.generate(
            prompt="x"
        )


def test_malformed_json_body(fake: Fake) -> None:
    resp = fake.post(
        "generations", content=b"{not json", headers={**AUTH, "content-type": "application/json"}
    )
    assert resp.status_code == 400
    err = error_of(resp)
    assert err["code"] is None and "could not parse the JSON body" in err["message"]


@pytest.mark.parametrize(
    ("model", "code", "kind"),
    [
        ("gpt-image-1", "moderation_blocked", "image_generation_user_error"),
        ("dall-e-3", "content_policy_violation", "invalid_request_error"),
    ],
)
def test_moderation_block(fake: Fake, model: str, code: str, kind: str) -> None:
    fake.state.moderation_block_words = {"gore"}
    resp = fake.post("generations", json={"model": model, "prompt": "lots of GORE"})
    assert resp.status_code == 400
    err = error_of(resp)
    assert (err["code"], err["type"], err["param"]) == (code, kind, None)


def test_lenient_response_format_switch(fake: Fake) -> None:
    fake.state.reject_response_format_for_gpt = False
    body = {"model": "gpt-image-1", "prompt": "x", "response_format": "url"}
    resp = fake.post("generations", json=body)
    assert resp.status_code == 200 and "b64_json" in resp.json()["data"][0]


GARBAGE = ("image", ("x.png", b"not an image at all", "image/png"))
MASK_RGB = ("mask", ("m.png", rgb_png(), "image/png"))
EDITS = [
    (
        {"model": "gpt-image-1-mini", "input_fidelity": "low"},
        [file()],
        "unknown_parameter",
        "input_fidelity",
    ),
    ({"model": "gpt-image-1", "moderation": "low"}, [file()], "unknown_parameter", "moderation"),
    (
        {"model": "gpt-image-1"},
        [file(), file(32, 32, name="mask")],
        "invalid_image_dimensions",
        "mask",
    ),
    ({"model": "gpt-image-1"}, [file(), MASK_RGB], "invalid_image_mode", "mask"),
    (
        {"model": "gpt-image-1"},
        [file(), file(fmt="JPEG", name="mask")],
        "invalid_image_format",
        "mask",
    ),
    (
        {"model": "gpt-image-1"},
        [file(name="image[]") for _ in range(17)],
        "array_above_max_length",
        "image",
    ),
    ({"model": "gpt-image-1"}, [GARBAGE], "invalid_image_file", "image"),
    ({"model": "gpt-image-1"}, [file(fmt="GIF")], "invalid_image_format", "image"),
    ({"model": "gpt-image-1"}, [], "missing_required_parameter", "image"),
    (
        {"model": "gpt-image-1", "image": "https://x/y.png"},
        [file(name="mask")],
        "invalid_type",
        "image",
    ),
    ({"model": "dall-e-2"}, [file(64, 32)], "invalid_image_dimensions", "image"),
    ({"model": "dall-e-2"}, [file(fmt="JPEG")], "invalid_image_format", "image"),
    (
        {"model": "dall-e-2"},
        [file(name="image[]"), file(name="image[]")],
        "array_above_max_length",
        "image",
    ),
    (
        {"model": "dall-e-2"},
        [("image", ("a.png", rgb_png(), "image/png"))],
        "invalid_image_mode",
        "image",
    ),
    ({"model": "dall-e-2", "size": "1024x1536"}, [file()], "invalid_value", "size"),
    ({"model": "dall-e-2", "stream": "true"}, [file()], "unknown_parameter", "stream"),
    ({"model": "dall-e-3"}, [file()], "invalid_value", "model"),
    ({"model": "gpt-image-1", "n": "x"}, [file()], "invalid_type", "n"),
    ({"model": "gpt-image-1", "stream": "maybe"}, [file()], "invalid_type", "stream"),
]


@pytest.mark.parametrize(("form", "files", "code", "param"), EDITS)
def test_multipart_edit_rejections(
    fake: Fake, form: dict[str, str], files: list[Any], code: str, param: str
) -> None:
    data = {"prompt": "edit it", **form}
    # httpx only sends multipart when files are given; an empty list needs a dummy file part
    parts = files or [("other", ("o.txt", b"x", "text/plain"))]
    resp = fake.post("edits", data=data, files=parts)
    assert resp.status_code == 400, resp.text
    err = error_of(resp)
    assert (err["code"], err["param"]) == (code, param)


def data_url(w: int, h: int) -> str:
    return f"data:image/png;base64,{image_b64(w, h)}"


JSON_EDITS = [
    (
        {"images": [{"image_url": data_url(8, 8), "file_id": "file-1"}]},
        "invalid_value",
        "images[0]",
    ),
    ({"images": [{"url": "https://x/y.png"}]}, "invalid_value", "images[0]"),
    ({"images": [{"image_url": "ftp://x/y.png"}]}, "invalid_value", "images[0]"),
    ({"images": [{"image_url": "data:image/png;base64,@@@"}]}, "invalid_value", "images[0]"),
    ({"images": []}, "invalid_value", "images"),
    ({"images": [{"file_id": "f"}] * 17}, "invalid_value", "images"),
    (
        {"images": [{"image_url": data_url(64, 64)}], "mask": {"image_url": data_url(32, 32)}},
        "invalid_image_dimensions",
        "mask",
    ),
    ({}, "missing_required_parameter", "images"),
    ({"images": [{"file_id": "f"}], "model": "dall-e-2"}, "invalid_value", "model"),
    ({"images": [{"file_id": "f"}], "size": "1792x1024"}, "invalid_value", "size"),
]


@pytest.mark.parametrize(("extra", "code", "param"), JSON_EDITS)
def test_json_edit_rejections(fake: Fake, extra: dict[str, Any], code: str, param: str) -> None:
    resp = fake.post("edits", json={"prompt": "edit it", **extra})
    assert resp.status_code == 400, resp.text
    err = error_of(resp)
    assert (err["code"], err["param"]) == (code, param)


VARIATIONS = [
    ({"model": "gpt-image-1"}, [file()], "invalid_value", "model"),
    ({}, [file(64, 32)], "invalid_image_dimensions", "image"),
    ({"prompt": "x"}, [file()], "unknown_parameter", "prompt"),
    ({"size": "1536x1024"}, [file()], "invalid_value", "size"),
    ({"n": "11"}, [file()], "integer_above_max_value", "n"),
]


@pytest.mark.parametrize(("form", "files", "code", "param"), VARIATIONS)
def test_variation_rejections(
    fake: Fake, form: dict[str, str], files: list[Any], code: str, param: str
) -> None:
    resp = fake.post("variations", data=form, files=files)
    assert resp.status_code == 400, resp.text
    assert (error_of(resp)["code"], error_of(resp)["param"]) == (code, param)


def test_variation_needs_multipart(fake: Fake) -> None:
    resp = fake.post("variations", json={"model": "dall-e-2"})
    assert resp.status_code == 400 and error_of(resp)["type"] == "invalid_request_error"


# --- fault switches ------------------------------------------------------------------------

GEN_BODY = {"model": "dall-e-2", "prompt": "x", "size": "256x256", "response_format": "b64_json"}


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        ("status_500", 500, "server_error"),
        ("status_502", 502, "server_error"),
        ("status_503", 503, "server_error"),
        ("status_401", 401, "invalid_request_error"),
        ("status_403", 403, "invalid_request_error"),
    ],
)
def test_status_faults(fake: Fake, fault: str, status: int, kind: str) -> None:
    fake.state.faults.queue(fault)
    resp = fake.post("generations", json=GEN_BODY)
    assert resp.status_code == status and error_of(resp)["type"] == kind
    assert fake.post("generations", json=GEN_BODY).status_code == 200  # queued fault consumed


def test_429_retry_after_and_sticky(fake: Fake) -> None:
    fake.state.faults.retry_after = 7
    fake.state.faults.sticky = "status_429"
    for _ in range(2):
        resp = fake.post("generations", json=GEN_BODY)
        assert resp.status_code == 429 and resp.headers["retry-after"] == "7"
        assert error_of(resp)["code"] == "rate_limit_exceeded"
    client = openai.OpenAI(api_key="sk-test", base_url=f"{fake.base}/v1", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.images.generate(
            model="dall-e-2", prompt="x", size="256x256", response_format="b64_json"
        )
    fake.state.faults.sticky = None
    assert fake.post("generations", json=GEN_BODY).status_code == 200


def test_sdk_retries_through_a_queued_503(fake: Fake) -> None:
    fake.state.faults.queue("status_503")
    client = openai.OpenAI(api_key="sk-test", base_url=f"{fake.base}/v1", max_retries=1)
    resp = client.images.generate(
        model="dall-e-2", prompt="x", size="256x256", response_format="b64_json"
    )
    assert resp.data is not None and len(fake.state.requests) == 2


def test_timeout_fault(fake: Fake) -> None:
    fake.state.faults.hang_seconds = 1.0
    fake.state.faults.queue("timeout")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fake.base}/v1/images/generations", json=GEN_BODY, headers=AUTH, timeout=0.2)


def test_malformed_json_fault(fake: Fake) -> None:
    fake.state.faults.queue("malformed_json")
    resp = fake.post("generations", json=GEN_BODY)
    assert resp.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)


def test_truncated_fault(fake: Fake) -> None:
    fake.state.faults.queue("truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        fake.post("edits", data={"model": "gpt-image-1", "prompt": "x"}, files=[file()])


def test_slow_drip_fault_json_and_stream(fake: Fake) -> None:
    fake.state.faults.drip_delay = 0.005
    fake.state.faults.queue("slow_drip", "slow_drip")
    with httpx.stream(
        "POST", f"{fake.base}/v1/images/generations", json=GEN_BODY, headers=AUTH
    ) as resp:
        chunks = list(resp.iter_raw())
    assert len(chunks) > 1
    assert orjson.loads(b"".join(chunks))["data"][0]["b64_json"]
    client = openai.OpenAI(api_key="sk-test", base_url=f"{fake.base}/v1", max_retries=0)
    stream = client.images.generate(
        model="gpt-image-1", prompt="x", stream=True, partial_images=1, quality="low"
    )
    assert [e.type for e in stream][-1] == "image_generation.completed"


def test_file_host_faults(fake: Fake) -> None:
    resp = fake.post("generations", json={"model": "dall-e-2", "prompt": "x", "size": "256x256"})
    url = resp.json()["data"][0]["url"]
    fake.state.files.faults.queue("status_503")
    assert httpx.get(url).status_code == 503
    assert httpx.get(url).status_code == 200


def test_unknown_path_and_method(fake: Fake) -> None:
    resp = httpx.post(f"{fake.base}/v1/images/upscale", headers=AUTH, json={})
    assert resp.status_code == 404 and "Invalid URL" in error_of(resp)["message"]
    assert httpx.get(f"{fake.base}/v1/images/generations").status_code == 405


def test_malformed_multipart_and_plain_repeated_image_fields(fake: Fake) -> None:
    headers = {**AUTH, "content-type": "multipart/form-data; boundary=zzz"}
    broken = fake.post("edits", content=b"--zzz\r\nnot a part", headers=headers)
    assert broken.status_code == 400 and error_of(broken)["type"] == "invalid_request_error"
    files = [file(), file(32, 32)]  # two parts named `image` (no brackets): accepted
    resp = fake.post("edits", data={"model": "gpt-image-1", "prompt": "x"}, files=files)
    assert resp.status_code == 200
    assert [p.name for p in fake.state.requests[-1].files] == ["image", "image"]
