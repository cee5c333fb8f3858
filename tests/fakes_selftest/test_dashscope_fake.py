"""Self-test of the DashScope fake: official `dashscope` SDK plus raw HTTP against loopback."""

# The seed 000 request bodies below are kept byte for byte, long lines included.
# ruff: noqa: E501

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import dashscope
import httpx
import orjson
import pytest
from dashscope import ImageSynthesis, MultiModalConversation
from dashscope.aigc.image_generation import ImageGeneration
from dashscope.api_entities.dashscope_response import (
    ImageGenerationResponse,
    MultiModalConversationResponse,
)
from PIL import Image

from tests.fakes.dashscope import DashScopeFakeState, create_app
from tests.fakes.images import image_b64
from tests.fakes.server import serve

KEY = "sk-fake-dashscope"
SYNC = "/api/v1/services/aigc/multimodal-generation/generation"
T2I = "/api/v1/services/aigc/text2image/image-synthesis"
GEN = "/api/v1/services/aigc/image-generation/generation"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

# Seed 000 §4.1-4.4, byte for byte as published (image hosts replaced per test).
SEED_41 = """{
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
SEED_42 = """{
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
SEED_43 = """{
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
SEED_44 = """{
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
SEED_IMAGES = {
    "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20251229/pjeqdf/car.webp": (
        "1280x960.webp"
    ),
    "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20251229/xsunlm/paint.webp": (
        "1024x1024.webp"
    ),
    "https://img.alicdn.com/imgextra/i3/O1CN0157XGE51l6iL9441yX_!!6000000004770-49-tps-1104-1472.webp": (
        "1104x1472.webp"
    ),
    "https://img.alicdn.com/imgextra/i3/O1CN01SfG4J41UYn9WNt4X1_!!6000000002530-49-tps-1696-960.webp": (
        "1696x960.webp"
    ),
}


@pytest.fixture
def state() -> DashScopeFakeState:
    return DashScopeFakeState(task_steps=1)


@pytest.fixture
def base(state: DashScopeFakeState) -> Iterator[str]:
    previous = dashscope.base_http_api_url
    with serve(create_app(state)) as url:
        dashscope.base_http_api_url = f"{url}/api/v1"
        try:
            yield url
        finally:
            dashscope.base_http_api_url = previous


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as http:
        yield http


def image_size(http: httpx.Client, url: str) -> tuple[int, int]:
    response = http.get(url)
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.format == "PNG"
        return img.size


def urls_of(body: dict[str, Any]) -> list[str]:
    return [
        item["image"]
        for choice in body["output"]["choices"]
        for item in choice["message"]["content"]
        if "image" in item
    ]


def mm_call(**kwargs: Any) -> MultiModalConversationResponse:
    """MultiModalConversation.call without streaming (the SDK's return type is a union)."""
    rsp = MultiModalConversation.call(**kwargs)
    assert isinstance(rsp, MultiModalConversationResponse)
    return rsp


def wan_body(model: str, text: str, images: list[str], **params: Any) -> dict[str, Any]:
    content: list[dict[str, str]] = [{"image": ref} for ref in images] + [{"text": text}]
    messages = [{"role": "user", "content": content}]
    return {"model": model, "input": {"messages": messages}, "parameters": params}


# --- official SDK ---------------------------------------------------------------------------


def test_sdk_image_synthesis_call_polls_to_success(base: str, client: httpx.Client) -> None:
    rsp = ImageSynthesis.call(
        model="wan2.5-t2i-preview", prompt="a flower shop", n=2, size="1280*1280", api_key=KEY
    )
    assert rsp.status_code == 200
    assert rsp.output.task_status == "SUCCEEDED"
    assert rsp.usage.image_count == 2
    assert rsp.output.task_metrics == {"TOTAL": 2, "SUCCEEDED": 2, "FAILED": 0}
    assert [image_size(client, r.url) for r in rsp.output.results] == [(1280, 1280)] * 2
    assert rsp.output.results[0].orig_prompt == "a flower shop"


def test_sdk_async_call_fetch_and_wait(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    state.task_steps = 2
    task = ImageSynthesis.async_call(
        model="wan2.2-t2i-plus", prompt="a cat", n=1, size="1024*768", seed=7, api_key=KEY
    )
    assert task.status_code == 200 and task.output.task_status == "PENDING"
    assert state.task_submissions == 1
    submit = state.requests[0]
    assert submit.path == T2I and submit.headers["x-dashscope-async"] == "enable"
    assert submit.body["parameters"] == {"size": "1024*768", "n": 1, "seed": 7}
    assert ImageSynthesis.fetch(task, api_key=KEY).output.task_status == "PENDING"
    assert ImageSynthesis.fetch(task, api_key=KEY).output.task_status == "RUNNING"
    done = ImageSynthesis.wait(task, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED"
    assert image_size(client, done.output.results[0].url) == (1024, 768)
    assert ImageSynthesis.fetch(task, api_key=KEY).output.task_status == "SUCCEEDED"


def test_sdk_imageedit_uses_image2image(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    state.task_steps = 0
    asset = f"{base}/_fake/img/512x384.png"
    rsp = ImageSynthesis.call(
        model="wanx2.1-imageedit",
        function="description_edit_with_mask",
        prompt="a ceramic rabbit",
        base_image_url=asset,
        mask_image_url=asset,
        n=1,
        api_key=KEY,
    )
    assert rsp.output.task_status == "SUCCEEDED", rsp
    assert state.requests[0].path.endswith("/image2image/image-synthesis")
    assert image_size(client, rsp.output.results[0].url) == (512, 384)


def test_sdk_sync_call_wan22_flash(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    rsp = ImageSynthesis.sync_call(
        model="wan2.2-t2i-flash", prompt="a dog", n=1, size="768*1024", api_key=KEY
    )
    assert rsp.status_code == 200 and rsp.output.task_status == "SUCCEEDED"
    assert "x-dashscope-async" not in state.requests[0].headers
    assert state.task_submissions == 0
    assert image_size(client, rsp.output.results[0].url) == (768, 1024)


def test_sdk_multimodal_qwen_image(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    rsp = mm_call(
        model="qwen-image-plus",
        api_key=KEY,
        messages=[{"role": "user", "content": [{"text": "three puppies"}]}],
        size="1328*1328",
        n=1,
        watermark=False,
        prompt_extend=True,
        negative_prompt="",
    )
    assert rsp.status_code == 200, rsp
    content: Any = rsp.output.choices[0].message.content
    url = content[0]["image"]
    assert image_size(client, url) == (1328, 1328)
    assert rsp.usage["width"] == 1328 and rsp.usage["image_count"] == 1
    assert "x-dashscope-async" not in state.requests[0].headers


def test_sdk_multimodal_wan27_edit_with_url_and_data_uri(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    data_uri = "data:image/png;base64," + image_b64(300, 300, "PNG")
    content = [{"image": f"{base}/_fake/img/800x600.jpg"}, {"image": data_uri}, {"text": "mix"}]
    rsp = mm_call(
        model="wan2.7-image",
        api_key=KEY,
        messages=[{"role": "user", "content": content}],
        size="1K",
        n=2,
        watermark=False,
    )
    assert rsp.status_code == 200, rsp
    contents: list[Any] = [choice.message.content for choice in rsp.output.choices]
    sizes = [image_size(client, content[0]["image"]) for content in contents]
    assert len(sizes) == 2
    w, h = sizes[0]
    assert abs(w / h - 4 / 3) < 0.02 and abs(w * h / 1024**2 - 1) < 0.05
    assert rsp.usage["size"] == f"{w}*{h}" and rsp.usage["image_count"] == 2
    recorded = state.requests[0].body["input"]["messages"][0]["content"][1]["image"]
    assert recorded.startswith("data:image/png;base64,<") and len(recorded) < 80


def test_sdk_image_generation_async_wan26(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    content = [{"image": f"{base}/_fake/img/600x800.jpg"}, {"text": "autumn version"}]
    messages: Any = [{"role": "user", "content": content}]
    task = ImageGeneration.async_call(
        model="wan2.6-image", api_key=KEY, messages=messages, n=2, size="1K", prompt_extend=False
    )
    assert isinstance(task, ImageGenerationResponse)
    assert task.status_code == 200 and task.output.task_status == "PENDING", task
    assert state.requests[0].path == GEN
    assert state.requests[0].headers["x-dashscope-async"] == "enable"
    done = ImageGeneration.wait(task, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED" and done.output.finished is True
    contents: list[Any] = [choice.message.content for choice in done.output.choices]
    sizes = [image_size(client, content[0]["image"]) for content in contents]
    w, h = sizes[0]
    assert sizes == [(w, h)] * 2 and abs(w / h - 3 / 4) < 0.02
    assert done.usage.image_count == 2


def test_sdk_task_failure_and_partial_failure(base: str, state: DashScopeFakeState) -> None:
    state.fail_tasks = True
    failed = ImageSynthesis.call(model="wan2.5-t2i-preview", prompt="x", n=1, api_key=KEY)
    assert failed.output.task_status == "FAILED"
    assert failed.output.code == "DataInspectionFailed"
    state.fail_tasks, state.failed_results, state.task_steps = False, 1, 0
    partial = ImageSynthesis.call(model="wan2.5-t2i-preview", prompt="x", n=3, api_key=KEY)
    assert partial.output.task_status == "SUCCEEDED"
    assert partial.output.task_metrics == {"TOTAL": 3, "SUCCEEDED": 2, "FAILED": 1}
    assert [bool(r.url) for r in partial.output.results] == [True, True, False]
    assert partial.usage.image_count == 2


def test_sdk_errors_auth_throttling_and_error_in_200(base: str, state: DashScopeFakeState) -> None:
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    bad = mm_call(model="qwen-image", api_key="sk-wrong", messages=messages)
    assert (bad.status_code, bad.code, bad.message) == (
        401,
        "InvalidApiKey",
        "Invalid API-key provided.",
    )
    state.faults.queue("status_429")
    throttled = ImageSynthesis.async_call(model="wan2.5-t2i-preview", prompt="x", api_key=KEY)
    assert (throttled.status_code, throttled.code) == (429, "Throttling.RateQuota")
    state.error_in_200 = True
    task = ImageSynthesis.async_call(model="wan2.5-t2i-preview", prompt="x", api_key=KEY)
    # The SDK's request path drops `code` from a 200 answer: no task id reaches the caller.
    assert task.status_code == 200 and task.output is None
    assert state.task_submissions == 0


def test_error_in_200_on_sync_endpoint(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    # Raw HTTP: the SDK's MultiModalConversation cannot parse this shape (TypeError on output).
    state.error_in_200 = True
    response = client.post(f"{base}{SYNC}", json=wan_body("qwen-image", "x", []), headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == "InternalError.Algo" and answer["message"]
    assert "output" not in answer and answer["request_id"]


def test_sdk_wait_retries_a_503_poll(base: str, state: DashScopeFakeState) -> None:
    state.task_steps = 0
    task = ImageSynthesis.async_call(model="wan2.5-t2i-preview", prompt="x", n=1, api_key=KEY)
    state.faults.queue("status_503")
    done = ImageSynthesis.wait(task, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED"
    assert [r.path for r in state.requests].count(f"/api/v1/tasks/{task.output.task_id}") == 2


# --- raw HTTP: seed scenarios -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (SEED_41, [(2048, 2048)]),
        (SEED_42, "4:3"),
        (SEED_43, "3:4"),
        (SEED_44, [(2048, 2048)] * 4),
    ],
    ids=["4.1-text-to-image", "4.2-image-editing", "4.3-interactive-editing", "4.4-group"],
)
def test_seed_scenarios_byte_for_byte(
    base: str, state: DashScopeFakeState, client: httpx.Client, seed: str, expected: Any
) -> None:
    body = seed
    for original, asset in SEED_IMAGES.items():
        body = body.replace(original, f"{base}/_fake/img/{asset}")
    response = client.post(f"{base}{SYNC}", content=body.encode(), headers=AUTH)
    assert response.status_code == 200, response.text
    answer = response.json()
    sizes = [image_size(client, url) for url in urls_of(answer)]
    if isinstance(expected, list):
        assert sizes == expected
    else:
        (w, h), (rw, rh) = sizes[0], map(int, expected.split(":"))
        assert abs(w / h - rw / rh) < 0.02 and abs(w * h / 2048**2 - 1) < 0.05
    assert answer["output"]["finished"] is True and answer["request_id"]
    assert answer["usage"]["image_count"] == len(sizes)
    assert state.requests[-1].body == orjson.loads(body)


# --- raw HTTP: async flows and rules ----------------------------------------------------------


def test_image_generation_task_states(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    state.task_steps = 2
    body = wan_body("wan2.6-t2i", "a lake", [], n=2, size="1280*1280", prompt_extend=True)
    headers = {**AUTH, "X-DashScope-Async": "enable"}
    created = client.post(f"{base}{GEN}", json=body, headers=headers).json()
    assert created["output"]["task_status"] == "PENDING"
    poll = f"{base}/api/v1/tasks/{created['output']['task_id']}"
    statuses = [client.get(poll, headers=AUTH).json() for _ in range(3)]
    assert [s["output"]["task_status"] for s in statuses] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert "usage" not in statuses[1]
    done = statuses[2]
    assert done["output"]["finished"] is True and done["usage"]["image_count"] == 2
    assert [image_size(client, u) for u in urls_of(done)] == [(1280, 1280)] * 2
    unknown = client.get(f"{base}/api/v1/tasks/nope", headers=AUTH).json()
    assert unknown["output"]["task_status"] == "UNKNOWN"


def test_async_header_rules(base: str, client: httpx.Client) -> None:
    t2i = {"model": "wan2.5-t2i-preview", "input": {"prompt": "x"}, "parameters": {}}
    missing = client.post(f"{base}{T2I}", json=t2i, headers=AUTH)
    assert missing.status_code == 403 and missing.json()["code"] == "AccessDenied"
    assert "synchronous" in missing.json()["message"]
    body = wan_body("qwen-image", "x", [])
    headers = {**AUTH, "X-DashScope-Async": "enable"}
    extra = client.post(f"{base}{SYNC}", json=body, headers=headers)
    assert extra.status_code == 403 and "asynchronous" in extra.json()["message"]


@pytest.mark.parametrize(
    ("model", "params", "images"),
    [
        ("qwen-image", {"size": "1024*1024"}, 0),
        ("qwen-image", {"size": "1328x1328"}, 0),
        ("qwen-image-max", {"n": 2}, 0),
        ("wan2.6-t2i", {"size": "1024*1024"}, 0),
        ("wan2.7-image", {"size": "4K"}, 0),
        ("wan2.7-image-pro", {"size": "4K", "enable_sequential": True}, 0),
        ("wan2.7-image-pro", {"size": "9000*100"}, 0),
        ("wan2.7-image-pro", {"n": 5}, 0),
        ("wan2.7-image-pro", {"thinking_mode": "quality"}, 0),
        ("wan2.7-image-pro", {"bbox_list": [[[0, 0, 900, 10]]]}, 1),
        ("wan2.6-image", {"size": "1K"}, 0),
        ("qwen-image-edit-plus", {"size": "256*256"}, 1),
    ],
)
def test_invalid_parameters(
    base: str, client: httpx.Client, model: str, params: dict[str, Any], images: int
) -> None:
    refs = [f"{base}/_fake/img/640x480.jpg"] * images
    response = client.post(f"{base}{SYNC}", json=wan_body(model, "x", refs, **params), headers=AUTH)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "InvalidParameter" and answer["message"] and answer["request_id"]


def test_envelope_and_message_rules(base: str, client: httpx.Client) -> None:
    def post(body: Any) -> dict[str, Any]:
        response = client.post(f"{base}{SYNC}", json=body, headers=AUTH)
        assert response.status_code == 400
        return dict(response.json())

    no_params = {"model": "qwen-image", "input": wan_body("qwen-image", "x", [])["input"]}
    assert post(no_params)["code"] == "BadRequest.EmptyParameters"
    assert post({"input": {}, "parameters": {}})["code"] == "BadRequest.EmptyModel"
    assert post(wan_body("qwen-image-ultra", "x", []))["message"] == "Model not exist."
    two_texts = wan_body("qwen-image", "x", [])
    two_texts["input"]["messages"][0]["content"].append({"text": "y"})
    assert post(two_texts)["code"] == "InvalidParameter"
    assert post(wan_body("wan2.6-t2i", "x [blocked] y", []))["code"] == "DataInspectionFailed"


def test_input_image_fetch_failures(base: str, client: httpx.Client) -> None:
    bad_refs = [
        f"{base}/_fake/img/not-an-image",
        "http://127.0.0.1:9/unreachable.png",
        "data:image/png;base64,@@@",
        f"{base}/_fake/img/100x100.png",  # below wan2.7's 240 px minimum
    ]
    for ref in bad_refs:
        body = wan_body("wan2.7-image-pro", "x", [ref], size="1K")
        response = client.post(f"{base}{SYNC}", json=body, headers=AUTH)
        assert response.status_code == 400, ref
        assert response.json()["code"] == "InvalidParameter"
    fetch_error = client.post(
        f"{base}{SYNC}", json=wan_body("wan2.7-image", "x", [bad_refs[0]]), headers=AUTH
    ).json()
    assert fetch_error["message"].startswith("url error")


def test_expired_urls_and_download_faults(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    answer = client.post(f"{base}{SYNC}", json=wan_body("qwen-image", "x", []), headers=AUTH)
    url = urls_of(answer.json())[0]
    assert image_size(client, url) == (1664, 928)
    state.download_faults.queue("status_500")
    assert client.get(url).status_code == 500
    state.expire_urls = True
    expired = client.get(url)
    assert expired.status_code == 403 and "Request has expired." in expired.text
    assert expired.headers["content-type"].startswith("application/xml")
    assert state.downloads == 3


def test_auth_failures(base: str, client: httpx.Client) -> None:
    body = wan_body("qwen-image", "x", [])
    missing = client.post(f"{base}{SYNC}", json=body)
    assert missing.status_code == 401
    assert missing.json()["message"] == "No API-key provided."
    wrong = client.get(f"{base}/api/v1/tasks/x", headers={"Authorization": "Bearer sk-no"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "InvalidApiKey"


# --- fault switches ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("status_500", 500, "InternalError"),
        ("status_502", 502, "InternalError"),
        ("status_503", 503, "ServiceUnavailable"),
        ("status_429", 429, "Throttling.RateQuota"),
        ("status_401", 401, "InvalidApiKey"),
        ("status_403", 403, "AccessDenied"),
    ],
)
def test_status_faults(
    base: str, state: DashScopeFakeState, client: httpx.Client, fault: str, status: int, code: str
) -> None:
    state.faults.retry_after = 7
    state.faults.queue(fault)
    body = wan_body("qwen-image", "x", [])
    response = client.post(f"{base}{SYNC}", json=body, headers=AUTH)
    assert response.status_code == status and response.json()["code"] == code
    if status == 429:
        assert response.headers["retry-after"] == "7"
    assert client.post(f"{base}{SYNC}", json=body, headers=AUTH).status_code == 200


def test_sticky_fault_hits_every_call(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    state.faults.sticky = "status_503"
    body = wan_body("qwen-image", "x", [])
    assert [client.post(f"{base}{SYNC}", json=body, headers=AUTH).status_code] * 2 == [503, 503]
    assert client.get(f"{base}/api/v1/tasks/x", headers=AUTH).status_code == 503
    state.faults.sticky = None
    assert client.post(f"{base}{SYNC}", json=body, headers=AUTH).status_code == 200


def test_timeout_fault(base: str, state: DashScopeFakeState) -> None:
    state.faults.hang_seconds = 0.6
    state.faults.queue("timeout")
    with httpx.Client(timeout=0.15, trust_env=False) as short, pytest.raises(httpx.ReadTimeout):
        short.post(f"{base}{SYNC}", json=wan_body("qwen-image", "x", []), headers=AUTH)


def test_malformed_and_truncated_faults(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    body = wan_body("qwen-image", "x", [])
    state.faults.queue("malformed_json", "truncated")
    malformed = client.post(f"{base}{SYNC}", json=body, headers=AUTH)
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(f"{base}{SYNC}", json=body, headers=AUTH)


def test_slow_drip_still_valid(base: str, state: DashScopeFakeState, client: httpx.Client) -> None:
    state.faults.drip_delay = 0.01
    state.faults.queue("slow_drip")
    with client.stream(
        "POST", f"{base}{SYNC}", json=wan_body("qwen-image", "x", []), headers=AUTH
    ) as r:
        chunks = [chunk for chunk in r.iter_raw() if chunk]
    assert len(chunks) > 3
    answer = orjson.loads(b"".join(chunks))
    assert image_size(client, urls_of(answer)[0]) == (1664, 928)


def test_data_uri_record_is_redacted_in_legacy_body(
    base: str, state: DashScopeFakeState, client: httpx.Client
) -> None:
    payload = base64.b64encode(b"\x00" * 4000).decode()
    body = {
        "model": "wan2.5-i2i-preview",
        "input": {"prompt": "x", "images": [f"data:image/png;base64,{payload}"]},
        "parameters": {"n": 1},
    }
    headers = {**AUTH, "X-DashScope-Async": "enable"}
    response = client.post(
        f"{base}/api/v1/services/aigc/image2image/image-synthesis", json=body, headers=headers
    )
    assert response.status_code == 400  # bytes are not an image
    assert payload not in orjson.dumps(state.requests[0].body).decode()
