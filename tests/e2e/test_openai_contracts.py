"""Every per-model contract rule (issue 3) is refused with a 400 naming `param` before any
upstream call; upstream errors are mapped to the client's shape; no credential leaks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.upstream_env import WRONG_KEY, Upstreams, start_upstreams
from tests.fakes.images import image_bytes
from tests.support.db import last_usage, usage_rows


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstreams]:
    yield from start_upstreams(tmp_path_factory.mktemp("contracts"))


def post(up: Upstreams, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        up.gw.base_url + "/v1/images/generations", json=body, headers=up.gw.headers, timeout=30
    )


GEN_RULES = [
    # gpt-image-2 flexible sizes (seed 003)
    ({"model": "gpt-image-2", "size": "1000x1008"}, "size", "multiples of 16"),
    ({"model": "gpt-image-2", "size": "4000x1600"}, "size", "at most 3840"),
    ({"model": "gpt-image-2", "size": "3840x1024"}, "size", "ratio"),
    ({"model": "gpt-image-2", "size": "640x640"}, "size", "pixel count"),
    ({"model": "gpt-image-2", "size": "3840x2400"}, "size", "pixel count"),
    # fixed size lists
    ({"model": "dall-e-2", "size": "1536x1024"}, "size", "supported sizes"),
    ({"model": "dall-e-3", "size": "512x512"}, "size", "supported sizes"),
    ({"model": "dall-e-3", "size": "auto"}, "size", "supported sizes"),
    ({"model": "gpt-image-1", "size": "2048x2048"}, "size", "supported sizes"),
    ({"model": "gpt-image-1-mini", "size": "256x256"}, "size", "supported sizes"),
    # n
    ({"model": "dall-e-3", "n": 2}, "n", "between 1 and 1"),
    ({"model": "gpt-image-1", "n": 11}, "n", "between 1 and 10"),
    ({"model": "gpt-image-1", "n": 0}, "n", "between 1 and 10"),
    # quality per family
    ({"model": "gpt-image-1", "quality": "hd"}, "quality", "auto, low, medium, high"),
    ({"model": "dall-e-3", "quality": "high"}, "quality", "standard, hd"),
    ({"model": "dall-e-2", "quality": "hd"}, "quality", "standard"),
    # background / compression
    (
        {"model": "gpt-image-1", "background": "transparent", "output_format": "jpeg"},
        "background",
        "png or webp",
    ),
    ({"model": "gpt-image-1", "output_compression": 50}, "output_compression", "jpeg or webp"),
    (
        {"model": "gpt-image-1", "output_format": "webp", "output_compression": 101},
        "output_compression",
        "between 0 and 100",
    ),
    # prompt lengths
    ({"model": "dall-e-2", "prompt": "p" * 1001}, "prompt", "1000"),
    ({"model": "dall-e-3", "prompt": "p" * 4001}, "prompt", "4000"),
    ({"model": "gpt-image-1", "prompt": "p" * 32001}, "prompt", "32000"),
    # enumerations and geometry
    ({"model": "dall-e-3", "style": "bold"}, "style", "vivid, natural"),
    ({"model": "gpt-image-1", "moderation": "off"}, "moderation", "auto, low"),
    ({"model": "gpt-image-2", "aspect_ratio": "16:9"}, "aspect_ratio", "does not take"),
    ({"model": "grok-imagine-image", "resolution": "4k"}, "resolution", "1k, 2k"),
    ({"model": "grok-imagine-image", "aspect_ratio": "5:4"}, "aspect_ratio", "16:9"),
    ({"model": "dall-e-2", "stream": True}, "stream", "streaming"),
    ({"model": "gpt-image-1", "stream": True, "partial_images": 4}, "partial_images", "0 and 3"),
]


@pytest.mark.parametrize(("fields", "param", "rule"), GEN_RULES)
def test_generation_contract_rules(
    up: Upstreams, fields: dict[str, Any], param: str, rule: str
) -> None:
    seen = (len(up.openai.requests), len(up.xai.requests), len(up.azure.requests))
    resp = post(up, {"prompt": "x", **fields})
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["param"] == param and rule in err["message"], err
    assert (len(up.openai.requests), len(up.xai.requests), len(up.azure.requests)) == seen


def _edit(up: Upstreams, model: str, **fields: str) -> httpx.Response:
    return httpx.post(
        up.gw.base_url + "/v1/images/edits",
        headers=up.gw.headers,
        data={"model": model, "prompt": "x", **fields},
        files=[("image", ("a.png", image_bytes(64, 64), "image/png"))],
        timeout=30,
    )


def test_edit_contract_rules(up: Upstreams) -> None:
    seen = len(up.openai.requests)
    cases = [
        (_edit(up, "dall-e-3"), "model", "does not support the edit"),
        (_edit(up, "gpt-image-1", input_fidelity="max"), "input_fidelity", "low, high"),
        (_edit(up, "gpt-image-2", size="1000x1000"), "size", "multiples of 16"),
    ]
    many = httpx.post(
        up.gw.base_url + "/v1/images/edits",
        headers=up.gw.headers,
        data={"model": "dall-e-2", "prompt": "x"},
        files=[("image[]", ("a.png", image_bytes(64, 64), "image/png"))] * 2,
        timeout=30,
    )
    cases.append((many, "image", "at most 1"))
    for resp, param, rule in cases:
        assert resp.status_code == 400, resp.text
        err = resp.json()["error"]
        assert err["param"] == param and rule in err["message"], err
    assert len(up.openai.requests) == seen


def test_content_policy_is_relayed(up: Upstreams) -> None:
    resp = post(up, {"model": "gpt-image-1", "prompt": "something forbidden"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "moderation_blocked"
    resp = post(up, {"model": "dall-e-3", "prompt": "forbidden"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "content_policy_violation"
    resp = post(up, {"model": "grok-imagine-image", "prompt": "forbidden"})
    assert resp.status_code == 400


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("status_500", 502, "upstream_error"),
        ("status_502", 502, "upstream_error"),
        ("status_503", 503, "upstream_unavailable"),
        ("status_429", 429, "upstream_rate_limited"),
        ("malformed_json", 502, "upstream_bad_response"),
        ("truncated", 502, "upstream_bad_response"),
    ],
)
def test_upstream_faults_are_mapped(up: Upstreams, fault: str, status: int, code: str) -> None:
    up.openai.faults.queue(fault)
    resp = post(up, {"model": "gpt-image-1", "prompt": "x"})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    if fault == "status_429":
        assert resp.headers["retry-after"] == str(up.openai.faults.retry_after)
    row = last_usage(up.gw)
    assert row.status == status and row.error_code == code and row.images == 0


def test_upstream_timeout_is_504(up: Upstreams) -> None:
    up.openai.faults.hang_seconds = 3
    up.openai.faults.queue("timeout")
    resp = post(up, {"model": "impatient", "prompt": "x"})
    assert resp.status_code == 504
    assert resp.json()["error"]["code"] == "upstream_timeout"


def test_upstream_auth_failure_is_502_and_never_leaks_the_credential(up: Upstreams) -> None:
    responses = [
        post(up, {"model": "broken-credentials", "prompt": "x"}),
        httpx.post(
            up.gw.base_url + "/v1/images/edits",
            headers=up.gw.headers,
            data={"model": "broken-credentials", "prompt": "x"},
            files=[("image", ("a.png", image_bytes(64, 64), "image/png"))],
        ),
    ]
    for resp in responses:
        assert resp.status_code == 502
        assert resp.json()["error"]["code"] == "upstream_auth_error"
    c = openai.OpenAI(base_url=up.gw.base_url + "/v1", api_key=up.gw.key, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        c.images.generate(model="broken-credentials", prompt="x")
    assert info.value.status_code == 502
    secrets = {WRONG_KEY, "sk-test", "azure-key", "xai-test", up.hub.key}
    logs = up.gw.logs()
    assert "upstream refused its credentials" in logs
    rows = repr(usage_rows(up.gw))
    for secret in secrets:
        assert all(secret not in r.text and secret not in str(r.headers) for r in responses)
        assert secret not in logs
        assert secret not in rows
