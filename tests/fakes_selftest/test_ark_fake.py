"""Self-test of the Ark fake: official `volcenginesdkarkruntime` SDK plus raw HTTP on loopback."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image
from volcenginesdkarkruntime import Ark
from volcenginesdkarkruntime._exceptions import (
    ArkAPIError,
    ArkAPITimeoutError,
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkNotFoundError,
)
from volcenginesdkarkruntime.types.images import (
    OptimizePromptOptions,
    SequentialImageGenerationOptions,
)

from tests.fakes.ark import ArkFakeState, create_app
from tests.fakes.images import image_b64
from tests.fakes.server import serve

KEY = "ark-fake-key"
PATH = "/api/v3/images/generations"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
V40, V45, V50 = (
    "doubao-seedream-4-0-250828",
    "doubao-seedream-4-5-251128",
    "doubao-seedream-5-0-260128",
)
SEEDEDIT = "doubao-seededit-3-0-i2i-250628"

# Seed 000's Ark example (client-facing form: `ark/<model>`), byte for byte.
SEED_ARK = """{
"model": "ark/doubao-seedream-4-0-250828",
"prompt": "日落下的城市天际线,电影感光影",
"size": "1024x1024"
}"""
# Protocol reference §2.2 examples (image hosts replaced per test).
DOC_I2I = """{
  "model": "doubao-seedream-4-0-250828",
  "prompt": "close-up of the dog lying on grass",
  "image": "https://ark-project.tos-cn-beijing.volces.com/doc_image/seedream4_imageToimage.png",
  "size": "2K",
  "sequential_image_generation": "disabled",
  "stream": false,
  "response_format": "url",
  "watermark": true
}"""
DOC_GROUP = """{
  "model": "doubao-seedream-4-0-250828",
  "prompt": "3 images of a girl and a cow plush on a roller coaster: morning, noon, night",
  "image": ["https://.../seedream4_imagesToimages_1.png", "https://.../seedream4_imagesToimages_2.png"],
  "sequential_image_generation": "auto",
  "sequential_image_generation_options": {"max_images": 3},
  "response_format": "url",
  "size": "2K",
  "stream": false,
  "watermark": false
}"""
DOC_SEEDEDIT = """{"model":"doubao-seededit-3-0-i2i-250628","prompt":"turn the bubbles into hearts","image":"https://.../seedream_i2i.jpeg","response_format":"url","size":"adaptive","seed":21,"guidance_scale":5.5,"watermark":true}"""


@pytest.fixture
def state() -> ArkFakeState:
    return ArkFakeState()


@pytest.fixture
def base(state: ArkFakeState) -> Iterator[str]:
    with serve(create_app(state)) as url:
        yield url


@pytest.fixture
def ark(base: str) -> Ark:
    return Ark(base_url=f"{base}/api/v3", api_key=KEY, max_retries=0, timeout=10)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def decode(data: bytes) -> tuple[tuple[int, int], str]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size, str(img.format)


def fetch(http: httpx.Client, url: str) -> tuple[tuple[int, int], str]:
    response = http.get(url)
    assert response.status_code == 200, response.text
    return decode(response.content)


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        fields = dict(line.split(": ", 1) for line in frame.split("\n"))
        data = fields["data"]
        events.append((fields.get("event"), data if data == "[DONE]" else orjson.loads(data)))
    return events


# --- official SDK ---------------------------------------------------------------------------


def test_sdk_generate_url(ark: Ark, state: ArkFakeState, http: httpx.Client) -> None:
    rsp = ark.images.generate(
        model=V40, prompt="a cat", size="2K", response_format="url", watermark=False, seed=5
    )
    assert rsp.model == V40 and len(rsp.data) == 1
    assert rsp.data[0].size == "2048x2048"
    assert fetch(http, rsp.data[0].url) == ((2048, 2048), "JPEG")
    assert (rsp.usage.generated_images, rsp.usage.output_tokens) == (1, 16384)
    sent = state.requests[0]
    assert sent.path == PATH and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["seed"] == 5 and sent.body["image"] is None  # the SDK sends nulls


def test_sdk_generate_b64_with_wxh(ark: Ark) -> None:
    rsp = ark.images.generate(
        model=V45,
        prompt="a harbour",
        size="2560x1440",
        response_format="b64_json",
        optimize_prompt_options=OptimizePromptOptions(thinking="auto"),  # mode: null
    )
    assert rsp.data[0].size == "2560x1440"
    assert decode(base64.b64decode(rsp.data[0].b64_json)) == ((2560, 1440), "JPEG")


def test_sdk_sequential_with_reference_images(ark: Ark, base: str, http: httpx.Client) -> None:
    refs = [
        f"{base}/_fake/img/640x480.png",
        "data:image/jpeg;base64," + image_b64(300, 300, "JPEG"),
    ]
    rsp = ark.images.generate(
        model=V40,
        prompt="three scenes",
        image=refs,
        size="1K",
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=3),
    )
    assert [d.size for d in rsp.data] == ["1024x1024"] * 3
    assert [fetch(http, d.url)[0] for d in rsp.data] == [(1024, 1024)] * 3
    assert rsp.usage.generated_images == 3


def test_sdk_streaming(ark: Ark, http: httpx.Client) -> None:
    stream = ark.images.generate(
        model=V50,
        prompt="two views",
        size="2K",
        stream=True,
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=2),
    )
    events = list(stream)
    assert [e.type for e in events] == [
        "image_generation.partial_succeeded",
        "image_generation.partial_succeeded",
        "image_generation.completed",
    ]
    assert [e.image_index for e in events[:2]] == [0, 1]
    assert fetch(http, events[0].url) == ((2048, 2048), "JPEG")
    assert events[2].model_dump()["usage"]["generated_images"] == 2


def test_sdk_stream_partial_failure_raises(ark: Ark, state: ArkFakeState) -> None:
    # The SDK raises on any stream frame carrying `error`, partial_failed included.
    state.fail_image_indexes = {1}
    stream = ark.images.generate(
        model=V40,
        prompt="x",
        stream=True,
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=2),
    )
    first = next(iter(stream))
    assert first.type == "image_generation.partial_succeeded"
    with pytest.raises(ArkAPIError) as err:
        next(iter(stream))
    assert err.value.code == "OutputImageSensitiveContentDetected"


def test_sdk_error_classes(ark: Ark, base: str) -> None:
    with pytest.raises(ArkBadRequestError) as bad:
        ark.images.generate(model=V45, prompt="x", size="1024x1024")
    assert (bad.value.code, bad.value.param, bad.value.type) == (
        "InvalidParameter",
        "size",
        "BadRequest",
    )
    with pytest.raises(ArkNotFoundError) as missing:
        ark.images.generate(model="doubao-seedream-9-9", prompt="x")
    assert missing.value.code == "InvalidEndpointOrModel.NotFound"
    wrong = Ark(base_url=f"{base}/api/v3", api_key="nope", max_retries=0)
    with pytest.raises(ArkAuthenticationError) as auth:
        wrong.images.generate(model=V40, prompt="x")
    assert auth.value.code == "AuthenticationError" and auth.value.status_code == 401


def test_sdk_retries_a_503_then_succeeds(base: str, state: ArkFakeState) -> None:
    state.faults.queue("status_503")
    ark = Ark(base_url=f"{base}/api/v3", api_key=KEY, max_retries=1, timeout=10)
    assert ark.images.generate(model=V40, prompt="x", size="1K").data[0].size == "1024x1024"
    assert len(state.requests) == 2


def test_sdk_timeout_fault(base: str, state: ArkFakeState) -> None:
    state.faults.hang_seconds = 0.6
    state.faults.queue("timeout")
    ark = Ark(base_url=f"{base}/api/v3", api_key=KEY, max_retries=0, timeout=0.15)
    with pytest.raises(ArkAPITimeoutError):
        ark.images.generate(model=V40, prompt="x", size="1K")


def test_sdk_slow_drip_still_parses(ark: Ark, state: ArkFakeState) -> None:
    state.faults.drip_delay = 0.005
    state.faults.queue("slow_drip")
    rsp = ark.images.generate(model=V40, prompt="x", size="1K", response_format="b64_json")
    assert decode(base64.b64decode(rsp.data[0].b64_json))[0] == (1024, 1024)


# --- raw HTTP -------------------------------------------------------------------------------


def test_seed_example_and_size_floor(base: str, http: httpx.Client) -> None:
    as_published = http.post(f"{base}{PATH}", content=SEED_ARK.encode(), headers=AUTH)
    assert as_published.status_code == 404  # the gateway must strip `ark/` before forwarding
    upstream = SEED_ARK.replace('"ark/', '"')
    answer = http.post(f"{base}{PATH}", content=upstream.encode(), headers=AUTH).json()
    assert fetch(http, answer["data"][0]["url"])[0] == (1024, 1024)
    for model, size, status in [
        (V50, "1024x1024", 400),  # seed 001: at least 3.68 MP
        (V50, "1920x1920", 200),
        (V45, "2048x2048", 200),
        (V45, "1919x1919", 400),
    ]:
        body = {"model": model, "prompt": "x", "size": size}
        assert http.post(f"{base}{PATH}", json=body, headers=AUTH).status_code == status, size


@pytest.mark.parametrize(
    ("model", "size"),
    [
        (V40, "1024*1024"),
        (V40, "8192x4096"),
        (V40, "6400x320"),
        (V40, "3K"),
        (V45, "1K"),
        (V50, "1K"),
        ("doubao-seedream-3-0-t2i-250415", "256x256"),
    ],
)
def test_bad_sizes(base: str, http: httpx.Client, model: str, size: str) -> None:
    response = http.post(
        f"{base}{PATH}", json={"model": model, "prompt": "x", "size": size}, headers=AUTH
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (
        "InvalidParameter",
        "size",
        "BadRequest",
    )
    assert error["message"].endswith(f"Request id: {response.headers['x-request-id']}")


def test_doc_examples(base: str, http: httpx.Client) -> None:
    png, jpeg = f"{base}/_fake/img/800x600.png", f"{base}/_fake/img/640x480.jpg"
    i2i = DOC_I2I.replace(
        "https://ark-project.tos-cn-beijing.volces.com/doc_image/seedream4_imageToimage.png", png
    )
    group = DOC_GROUP.replace("https://.../seedream4_imagesToimages_1.png", png)
    group = group.replace("https://.../seedream4_imagesToimages_2.png", jpeg)
    edit = DOC_SEEDEDIT.replace("https://.../seedream_i2i.jpeg", jpeg)
    expected = [(i2i, [(2048, 2048)]), (group, [(2048, 2048)] * 3), (edit, [(640, 480)])]
    for body, sizes in expected:
        answer = http.post(f"{base}{PATH}", content=body.encode(), headers=AUTH)
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        assert [fetch(http, d["url"])[0] for d in data] == sizes
        assert answer.json()["usage"]["generated_images"] == len(sizes)


def test_raw_stream_with_partial_failure(
    base: str, state: ArkFakeState, http: httpx.Client
) -> None:
    state.fail_image_indexes = {1}
    body = {
        "model": V45,
        "prompt": "x",
        "stream": True,
        "response_format": "b64_json",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": 3},
    }
    response = http.post(f"{base}{PATH}", json=body, headers=AUTH)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.content)
    assert [name for name, _ in events] == [
        "image_generation.partial_succeeded",
        "image_generation.partial_failed",
        "image_generation.partial_succeeded",
        "image_generation.completed",
        None,
    ]
    assert all(data["type"] == name for name, data in events[:-1])
    assert events[-1][1] == "[DONE]"
    assert decode(base64.b64decode(events[0][1]["b64_json"])) == ((2048, 2048), "JPEG")
    assert events[1][1]["error"]["code"] == "OutputImageSensitiveContentDetected"
    assert events[3][1]["usage"] == {
        "generated_images": 2,
        "output_tokens": 32768,
        "total_tokens": 32768,
    }


def test_non_stream_partial_failure(base: str, state: ArkFakeState, http: httpx.Client) -> None:
    state.fail_image_indexes = {0}
    body = {
        "model": V40,
        "prompt": "x",
        "size": "1K",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": 2},
    }
    answer = http.post(f"{base}{PATH}", json=body, headers=AUTH).json()
    assert answer["data"][0]["error"]["code"] == "OutputImageSensitiveContentDetected"
    assert answer["data"][1]["size"] == "1024x1024"
    assert answer["usage"]["generated_images"] == 1


def test_v50_png_output_and_endpoint_id(base: str, state: ArkFakeState, http: httpx.Client) -> None:
    state.endpoints["ep-20250101-fake"] = "seedream-5-0-260128"
    body = {
        "model": "ep-20250101-fake",
        "prompt": "x",
        "output_format": "png",
        "tools": [{"type": "web_search"}],
    }
    answer = http.post(f"{base}{PATH}", json=body, headers=AUTH).json()
    assert answer["model"] == "ep-20250101-fake"
    assert answer["data"][0]["output_format"] == "png"
    assert fetch(http, answer["data"][0]["url"]) == ((2048, 2048), "PNG")
    assert answer["usage"]["tool_usage"] == {"web_search": 0}


def test_request_rules(base: str, http: httpx.Client) -> None:
    def error(body: dict[str, Any]) -> tuple[int, str, str]:
        response = http.post(f"{base}{PATH}", json=body, headers=AUTH)
        assert response.headers["content-type"].startswith("application/json")
        err = response.json()["error"]
        return response.status_code, err["code"], err["param"]

    png = f"{base}/_fake/img/64x64.png"
    assert error({"model": V40}) == (400, "MissingParameter", "prompt")
    assert error({"model": V40, "prompt": "a [blocked] b", "stream": True})[1] == (
        "InputTextSensitiveContentDetected"
    )
    assert error({"model": V40, "prompt": "x", "response_format": "jpeg"})[2] == "response_format"
    assert error({"model": V40, "prompt": "x", "seed": -2})[2] == "seed"
    assert error({"model": V40, "prompt": "x", "watermark": "no"})[2] == "watermark"
    assert error({"model": V45, "prompt": "x", "optimize_prompt_options": {"mode": "fast"}})[1] == (
        "InvalidParameter"
    )
    many = {"model": V40, "prompt": "x", "image": [png] * 15}
    assert error(many) == (400, "InvalidParameter", "image")
    seq = {"model": V40, "prompt": "x", "sequential_image_generation": "auto"}
    assert error({**seq, "sequential_image_generation_options": {"max_images": 16}})[0] == 400
    assert error({"model": SEEDEDIT, "prompt": "x"})[2] == "image"  # exactly one image
    assert error({"model": SEEDEDIT, "prompt": "x", "image": png, "size": "2K"})[2] == "size"
    assert error({"model": SEEDEDIT, "prompt": "x", "image": png, "stream": True})[2] == "stream"


def test_reference_image_failures(base: str, http: httpx.Client) -> None:
    refs = [
        f"{base}/_fake/img/missing",
        "http://127.0.0.1:9/nothing.png",
        "data:image/PNG;base64," + image_b64(64, 64),
        f"{base}/_fake/img/10x10.png",
        f"{base}/_fake/img/1700x100.png",  # aspect 17 > 16
    ]
    for ref in refs:
        response = http.post(
            f"{base}{PATH}", json={"model": V40, "prompt": "x", "image": ref}, headers=AUTH
        )
        assert response.status_code == 400, ref
        assert response.json()["error"]["param"] == "image"
    ok = {
        "model": V40,
        "prompt": "x",
        "size": "1K",
        "image": "data:image/png;base64," + image_b64(64, 64),
    }
    assert http.post(f"{base}{PATH}", json=ok, headers=AUTH).status_code == 200


def test_auth_and_expired_urls(base: str, state: ArkFakeState, http: httpx.Client) -> None:
    body = {"model": V40, "prompt": "x", "size": "1K"}
    missing = http.post(f"{base}{PATH}", json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "Unauthorized"
    url = http.post(f"{base}{PATH}", json=body, headers=AUTH).json()["data"][0]["url"]
    state.download_faults.queue("status_502")
    assert http.get(url).status_code == 502
    state.expire_urls = True
    expired = http.get(url)
    assert expired.status_code == 403 and "Request has expired" in expired.text
    assert state.downloads == 2 and state.generations == 1


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("status_500", 500, "InternalServiceError"),
        ("status_502", 502, "InternalServiceError"),
        ("status_503", 503, "ServerOverloaded"),
        ("status_429", 429, "RateLimitExceeded"),
        ("status_401", 401, "AuthenticationError"),
        ("status_403", 403, "AccessDenied"),
    ],
)
def test_status_faults(
    base: str, state: ArkFakeState, http: httpx.Client, fault: str, status: int, code: str
) -> None:
    state.faults.queue(fault)
    body = {"model": V40, "prompt": "x", "size": "1K"}
    response = http.post(f"{base}{PATH}", json=body, headers=AUTH)
    assert response.status_code == status and response.json()["error"]["code"] == code
    if status == 429:
        assert response.headers["retry-after"] == str(state.faults.retry_after)
    assert http.post(f"{base}{PATH}", json=body, headers=AUTH).status_code == 200


def test_malformed_truncated_and_sticky(base: str, state: ArkFakeState, http: httpx.Client) -> None:
    body = {"model": V40, "prompt": "x", "size": "1K"}
    state.faults.queue("malformed_json", "truncated")
    malformed = http.post(f"{base}{PATH}", json=body, headers=AUTH)
    with pytest.raises(ValueError):
        malformed.json()
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(f"{base}{PATH}", json=body, headers=AUTH)
    state.faults.sticky = "status_500"
    assert [http.post(f"{base}{PATH}", json=body, headers=AUTH).status_code for _ in range(2)] == [
        500,
        500,
    ]
    state.faults.sticky = None
    assert http.post(f"{base}{PATH}", json=body, headers=AUTH).status_code == 200


def test_slow_drip_stream(base: str, state: ArkFakeState, http: httpx.Client) -> None:
    state.faults.drip_delay = 0.002
    state.faults.queue("slow_drip")
    body = {"model": V40, "prompt": "x", "size": "1K", "stream": True}
    with http.stream("POST", f"{base}{PATH}", json=body, headers=AUTH) as response:
        chunks = [chunk for chunk in response.iter_raw() if chunk]
    assert len(chunks) > 3
    events = sse_events(b"".join(chunks))
    assert [name for name, _ in events] == [
        "image_generation.partial_succeeded",
        "image_generation.completed",
        None,
    ]
    assert fetch(http, events[0][1]["url"])[0] == (1024, 1024)
