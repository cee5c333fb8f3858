"""The gemini adapter on bytes alone: request bodies, answers, blocks, usage, errors, streams,
passthrough and Vertex endpoints. No network."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from pixelgate.core.models import ImageFormat, ImageInput, ImageRequest, Operation
from pixelgate.core.native import NativeCall
from pixelgate.core.streaming import SseEvent
from pixelgate.errors import (
    ContentPolicyError,
    GatewayError,
    RequestError,
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixelgate.providers.base import Route, UpstreamResponse
from pixelgate.providers.gemini import PROVIDER, GeminiAdapter
from pixelgate.settings import DeploymentConfig, ProviderConfig
from tests.fakes.images import image_b64, image_bytes

SECRET = "upstream-secret-key-123"
ADAPTER = GeminiAdapter()


def route(options: dict[str, Any] | None = None, base_url: str | None = "http://up") -> Route:
    dep = DeploymentConfig(model="nano-banana-pro", provider="g", upstream_model="gemini-3-pro")
    provider = ProviderConfig(
        type="gemini",
        base_url=base_url,
        api_key=SECRET,  # type: ignore[arg-type]
        options=options or {},
    )
    return Route(dep, "g", provider)


def request(**kw: Any) -> ImageRequest:
    return ImageRequest(model="nano-banana-pro", prompt="a red fox", **kw)


def answer(*parts: dict[str, Any], finish: str = "STOP", **extra: Any) -> UpstreamResponse:
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}
        ],
        **extra,
    }
    return UpstreamResponse(200, {}, orjson.dumps(body))


def image_part(fmt: str = "PNG") -> dict[str, Any]:
    return {"inlineData": {"mimeType": f"image/{fmt.lower()}", "data": image_b64(8, 4, fmt)}}


def test_registered_with_one_image_per_call() -> None:
    assert PROVIDER.type == "gemini" and PROVIDER.images_per_call == 1


def test_generate_body_url_and_key() -> None:
    ref = image_bytes(10, 10, "JPEG")
    req = request(
        operation=Operation.IMAGE_TO_IMAGE,
        images=(ImageInput(data=ref, content_type="image/jpeg"),),
        aspect_ratio="16:9",
        resolution="2k",
        seed=7,
    )
    up = ADAPTER.to_upstream(req, route())
    assert up.url == "http://up/v1beta/models/gemini-3-pro:generateContent"
    assert up.headers["x-goog-api-key"] == SECRET and "authorization" not in up.headers
    assert up.content is not None
    body = orjson.loads(up.content)
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "a red fox"},
                {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(ref).decode()}},
            ],
        }
    ]
    assert body["generationConfig"] == {
        "responseModalities": ["IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
        "seed": 7,
    }


def test_text_capable_clients_ask_for_text_and_image_and_no_image_config() -> None:
    up = ADAPTER.to_upstream(request(accept_text=True), route({"api_version": "v1"}))
    assert up.url == "http://up/v1/models/gemini-3-pro:generateContent"
    assert up.content is not None
    assert orjson.loads(up.content)["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"]}


@pytest.mark.parametrize(
    ("options", "base", "url"),
    [
        (
            {"vertex": True, "project": "p1"},
            None,
            "https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/"
            "models/gemini-3-pro:generateContent",
        ),
        (
            {"vertex": True, "project": "p1", "location": "europe-west4"},
            None,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/"
            "europe-west4/publishers/google/models/gemini-3-pro:generateContent",
        ),
        (
            {"vertex": True},
            "https://vertex.example",
            "https://vertex.example/v1/publishers/google/models/gemini-3-pro:generateContent",
        ),
        (
            {},
            None,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro:generateContent",
        ),
    ],
)
def test_endpoints(options: dict[str, Any], base: str | None, url: str) -> None:
    assert ADAPTER.to_upstream(request(), route(options, base)).url == url


def test_bearer_auth_and_misconfigured_options() -> None:
    up = ADAPTER.to_upstream(request(), route({"vertex": True, "auth": "bearer"}))
    assert up.headers["authorization"] == f"Bearer {SECRET}" and "x-goog-api-key" not in up.headers
    with pytest.raises(GatewayError) as info:
        ADAPTER.to_upstream(request(), route({"api_verison": "v1"}))
    assert info.value.status == 500 and "api_verison" in info.value.message


def test_answer_images_text_usage_and_thoughts_skipped() -> None:
    usage = {
        "promptTokenCount": 563,
        "candidatesTokenCount": 1125,
        "thoughtsTokenCount": 180,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 3},
            {"modality": "IMAGE", "tokenCount": 560},
        ],
        "candidatesTokensDetails": [
            {"modality": "IMAGE", "tokenCount": 1120},
            {"modality": "TEXT", "tokenCount": 5},
        ],
    }
    resp = answer(
        {"text": "thinking...", "thought": True},
        {**image_part(), "thought": True},
        {"text": "Here is "},
        {"text": "your image."},
        {**image_part("JPEG"), "thoughtSignature": "sig"},
        usageMetadata=usage,
    )
    result = ADAPTER.from_upstream(resp, request(), route())
    assert result.text == "Here is your image."
    assert len(result.images) == 1 and result.images[0].fmt is ImageFormat.JPEG
    assert result.images[0].data == image_bytes(8, 4, "JPEG")
    u = result.usage
    assert u is not None
    assert (u.input_tokens, u.input_text_tokens, u.input_image_tokens) == (563, 3, 560)
    assert (u.output_tokens, u.output_image_tokens, u.output_text_tokens) == (1305, 1120, 5)


@pytest.mark.parametrize(
    "reason", ["SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "NO_IMAGE", "IMAGE_RECITATION"]
)
def test_finish_reason_blocks_are_content_policy_errors(reason: str) -> None:
    body = {"candidates": [{"finishReason": reason, "finishMessage": "Unable to show it."}]}
    with pytest.raises(ContentPolicyError) as info:
        ADAPTER.from_upstream(UpstreamResponse(200, {}, orjson.dumps(body)), request(), route())
    assert reason in info.value.message and "Unable to show it." in info.value.message
    assert info.value.status == 400 and not info.value.retryable


def test_prompt_block_and_empty_answers() -> None:
    blocked = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {}}
    with pytest.raises(ContentPolicyError, match="blocked the prompt"):
        ADAPTER.from_upstream(UpstreamResponse(200, {}, orjson.dumps(blocked)), request(), route())
    with pytest.raises(UpstreamBadResponse, match="neither an image nor text"):
        ADAPTER.from_upstream(answer(finish="OTHER"), request(), route())
    with pytest.raises(UpstreamBadResponse, match="not valid JSON"):
        ADAPTER.from_upstream(UpstreamResponse(200, {}, b"<html>"), request(), route())
    bad = {"inlineData": {"mimeType": "image/heic", "data": "AAAA"}}
    with pytest.raises(UpstreamBadResponse, match="unusable image"):
        ADAPTER.from_upstream(answer(bad), request(), route())


def error(code: int, status: str, reason: str | None = None, **extra: Any) -> bytes:
    err: dict[str, Any] = {"code": code, "message": f"bad {SECRET}", "status": status}
    if reason:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    err.update(extra)
    return orjson.dumps({"error": err})


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "http"),
    [
        (400, error(400, "INVALID_ARGUMENT", "API_KEY_INVALID"), {}, UpstreamAuthError, 502),
        (401, error(401, "UNAUTHENTICATED"), {}, UpstreamAuthError, 502),
        (403, error(403, "PERMISSION_DENIED"), {}, UpstreamAuthError, 502),
        (400, error(400, "INVALID_ARGUMENT"), {}, RequestError, 400),
        (400, error(400, "FAILED_PRECONDITION"), {}, UpstreamError, 502),
        (404, error(404, "NOT_FOUND"), {}, UpstreamError, 502),
        (429, error(429, "RESOURCE_EXHAUSTED"), {"retry-after": "3"}, UpstreamRateLimited, 429),
        (500, error(500, "INTERNAL"), {}, UpstreamError, 502),
        (503, b"<html>overloaded</html>", {}, UpstreamUnavailable, 503),
        (504, error(504, "DEADLINE_EXCEEDED"), {}, UpstreamTimeout, 504),
    ],
)
def test_error_mapping_never_shows_the_key(
    status: int, body: bytes, headers: dict[str, str], kind: type[GatewayError], http: int
) -> None:
    err = ADAPTER.map_error(UpstreamResponse(status, headers, body), route())
    assert type(err) is kind and err.status == http
    assert SECRET not in err.message
    assert err.retryable is (http >= 500 or http == 429)


def test_rate_limit_retry_info_and_array_bodies() -> None:
    detail = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    body = orjson.dumps(
        [{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [detail]}}]
    )
    err = ADAPTER.map_error(UpstreamResponse(429, {}, body), route())
    assert isinstance(err, UpstreamRateLimited) and err.retry_after == 7.0


def test_stream_request_and_events() -> None:
    up = ADAPTER.content_stream_request(request(accept_text=True), route())
    assert up.url.endswith(":streamGenerateContent") and up.params == {"alt": "sse"}
    with pytest.raises(UpstreamBadResponse, match="not a JSON object"):
        ADAPTER.parse_content_event(SseEvent("message", '"a string"'), request(), route())
    chunk = {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}
    first = ADAPTER.parse_content_event(
        SseEvent("message", orjson.dumps(chunk).decode()), request(), route()
    )
    assert first is not None and first.text == "Hi" and not first.images
    meta = {"promptTokenCount": 2, "candidatesTokenCount": 1}
    last = {"candidates": [{"content": {}, "finishReason": "STOP"}], "usageMetadata": meta}
    tail = ADAPTER.parse_content_event(
        SseEvent("message", orjson.dumps(last).decode()), request(), route()
    )
    assert tail is not None and tail.usage is not None and tail.usage.input_tokens == 2
    empty = {"candidates": [{"content": {"parts": []}}]}
    assert (
        ADAPTER.parse_content_event(
            SseEvent("message", orjson.dumps(empty).decode()), request(), route()
        )
        is None
    )
    err = orjson.dumps({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    with pytest.raises(UpstreamUnavailable):
        ADAPTER.parse_content_event(SseEvent("message", err.decode()), request(), route())
    blocked = {"candidates": [{"content": {}, "finishReason": "IMAGE_SAFETY"}]}
    with pytest.raises(ContentPolicyError):
        ADAPTER.parse_content_event(
            SseEvent("message", orjson.dumps(blocked).decode()), request(), route()
        )


def test_passthrough_forwards_the_body_unchanged() -> None:
    body = b'{"contents":[{"parts":[{"text":"x"}]}],"generation_config":{"seed":1}}'
    up = ADAPTER.passthrough_request(NativeCall("gemini", body), route())
    assert up.content is body and up.params == {}
    assert up.url == "http://up/v1beta/models/gemini-3-pro:generateContent"
    assert up.headers["x-goog-api-key"] == SECRET
    streamed = ADAPTER.passthrough_request(NativeCall("gemini", body, True, True), route())
    assert streamed.url.endswith(":streamGenerateContent") and streamed.params == {"alt": "sse"}
    as_array = ADAPTER.passthrough_request(NativeCall("gemini", body, True, False), route())
    assert as_array.params == {}
    assert ADAPTER.protocol == "gemini"


def test_count_images() -> None:
    one = answer({"text": "x"}, image_part(), {**image_part(), "thought": True}).body
    assert ADAPTER.count_images(one) == 1
    assert ADAPTER.count_images(b"[" + one + b"," + one + b"]") == 2
    assert ADAPTER.count_images(b"not json") == 0
