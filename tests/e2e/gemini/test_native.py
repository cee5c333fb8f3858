"""The official google-genai SDK (and raw HTTP) on the gateway's Gemini-native dialect:
passthrough to the Gemini fake, and the canonical path to the sandbox (seed 004)."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from tests.e2e.gemini.conftest import BAD_KEY, UPSTREAM_KEY, usage_when
from tests.fakes.gemini import GeminiFakeState
from tests.fakes.images import image_b64, image_bytes
from tests.support.db import last_usage, usage_rows
from tests.support.gateway import Gateway


def sdk(gw: Gateway, key: str | None = None) -> genai.Client:
    """The SDK pointed at the gateway with only base_url changed. Hold it in a variable while
    calling: a Client closes its connection pool when it is garbage-collected."""
    http = types.HttpOptions(base_url=gw.base_url, timeout=30_000)
    return genai.Client(api_key=key or gw.key, http_options=http)


def size_of(data: bytes | None) -> tuple[int, int]:
    assert data
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def config(aspect: str | None = None, size: str | None = None) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=aspect, image_size=size),
    )


def image_of(response: types.GenerateContentResponse) -> bytes | None:
    parts = response.parts or []
    return next((p.inline_data.data for p in parts if p.inline_data), None)


def post(gw: Gateway, path: str, body: Any, **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = kw.pop("headers", {"x-goog-api-key": gw.key})
    return httpx.post(gw.base_url + path, content=content, headers=headers, timeout=30, **kw)


def test_sdk_generate_passes_through(gw: Gateway, upstream: GeminiFakeState) -> None:
    client = sdk(gw)
    response = client.models.generate_content(
        model="nano-banana-pro", contents="a red fox", config=config("16:9", "2K")
    )
    assert size_of(image_of(response)) == (2816, 1536)
    assert response.text == "Here is your image."
    usage = response.usage_metadata
    assert usage is not None and usage.thoughts_token_count == 180
    assert response.model_version == "gemini-3-pro-image-preview"  # the upstream's own JSON
    sent = upstream.requests[-1]
    # google-genai 3.x calls /v1/models/...; the deployment's provider uses v1beta.
    assert sent.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY and sent.query == {}
    assert gw.key not in repr(sent)
    assert sent.body["generationConfig"]["imageConfig"] == {
        "aspectRatio": "16:9",
        "imageSize": "2K",
    }
    row = last_usage(gw)
    assert (row.dialect, row.model, row.images, row.operation) == (
        "gemini",
        "nano-banana-pro",
        1,
        "generate",
    )
    assert row.deployment == "google/gemini-3-pro-image-preview"


def test_sdk_edit_with_reference_image(gw: Gateway, upstream: GeminiFakeState) -> None:
    reference = image_bytes(600, 300, "JPEG")
    client = sdk(gw)
    response = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents=[
            types.Part.from_text(text="make it a cartoon"),
            types.Part.from_bytes(data=reference, mime_type="image/jpeg"),
        ],
        config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
    )
    assert size_of(image_of(response)) == (1344, 768)  # follows the 2:1 reference
    part = upstream.requests[-1].body["contents"][0]["parts"][1]["inlineData"]
    assert part == {"mimeType": "image/jpeg", "byteLength": len(reference)}
    assert last_usage(gw).operation == "edit"


def test_sdk_stream_passes_events_through(gw: Gateway, upstream: GeminiFakeState) -> None:
    client = sdk(gw)
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-3-pro-image-preview", contents="a cat", config=config("16:9", "1K")
        )
    )
    assert chunks[0].text == "Here is your image."
    assert size_of(image_of(chunks[-1])) == (1408, 768)
    assert chunks[-1].usage_metadata and chunks[-1].usage_metadata.candidates_token_count == 1125
    sent = upstream.requests[-1]
    assert sent.path.endswith(":streamGenerateContent") and sent.query == {"alt": "sse"}
    assert last_usage(gw).images == 1


def test_snake_case_query_key_bearer_and_v1beta(gw: Gateway, upstream: GeminiFakeState) -> None:
    body = {  # seed 004's example, snake_case, lowercase modality
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Let the people hold the flowers, the style remains the same"},
                    {"inline_data": {"mime_type": "image/png", "data": image_b64(32, 32)}},
                ],
            }
        ],
        "generationConfig": {
            "responseModalities": ["image"],
            "imageConfig": {"aspectRatio": "1:1"},
        },
    }
    path = "/v1beta/models/gemini-2.5-flash-image:generateContent"
    by_query = post(gw, path, body, headers={}, params={"key": gw.key})
    by_bearer = post(gw, path, body, headers={"Authorization": f"Bearer {gw.key}"})
    for resp in (by_query, by_bearer):
        assert resp.status_code == 200, resp.text
        parts = resp.json()["candidates"][0]["content"]["parts"]
        assert size_of(base64.b64decode(parts[0]["inlineData"]["data"])) == (1024, 1024)
    assert upstream.requests[-1].query == {}  # the client's ?key= never goes upstream


def test_sdk_on_v1beta(gw: Gateway, upstream: GeminiFakeState) -> None:
    http = types.HttpOptions(base_url=gw.base_url, api_version="v1beta", timeout=30_000)
    client = genai.Client(api_key=gw.key, http_options=http)
    response = client.models.generate_content(
        model="tokenhub/nano-banana-pro", contents="x", config=config("1:1", "1K")
    )
    assert size_of(image_of(response)) == (1024, 1024)
    assert upstream.requests[-1].path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"


def test_text_only_answer(gw: Gateway, upstream: GeminiFakeState) -> None:
    upstream.text_only_words = {"2+2"}
    client = sdk(gw)
    response = client.models.generate_content(
        model="gemini-3.1-flash-image-preview", contents="2+2? only the number"
    )
    assert response.text and response.text.startswith("I can only describe it")
    assert image_of(response) is None


def test_blocks_keep_gemini_semantics_in_passthrough(
    gw: Gateway, upstream: GeminiFakeState
) -> None:
    upstream.block = "IMAGE_SAFETY"
    client = sdk(gw)
    response = client.models.generate_content(
        model="gemini-2.5-flash-image", contents="x", config=config()
    )
    assert response.candidates and response.candidates[0].finish_reason == "IMAGE_SAFETY"
    assert image_of(response) is None and last_usage(gw).images == 0


def test_sandbox_serves_native_without_credentials(gw: Gateway, upstream: GeminiFakeState) -> None:
    client = sdk(gw)
    made = client.models.generate_content(model="sandbox-image", contents="a lighthouse")
    assert size_of(image_of(made)) == (1024, 1024)
    assert made.model_version == "sandbox-image"
    assert made.candidates and made.candidates[0].finish_reason == types.FinishReason.STOP
    reference = image_bytes(200, 120, "PNG")
    edited = client.models.generate_content(
        model="sandbox-image",
        contents=[
            types.Part.from_text(text="add shapes"),
            types.Part.from_bytes(data=reference, mime_type="image/png"),
        ],
    )
    assert size_of(image_of(edited)) == (200, 120)
    chunks = list(client.models.generate_content_stream(model="sandbox-image", contents="a lake"))
    assert len(chunks) == 1 and size_of(image_of(chunks[0])) == (1024, 1024)
    assert chunks[0].usage_metadata and chunks[0].usage_metadata.prompt_token_count
    snake = {  # seed 004's snake_case names on the canonical path
        "contents": [
            {"role": "user", "parts": [{"text": "hold the flowers"}]},
            {
                "role": "model",
                "parts": [{"inline_data": {"mime_type": "image/png", "data": image_b64(90, 60)}}],
            },
            {"role": "user", "parts": [{"text": "now in blue"}]},
        ],
        "system_instruction": {"parts": [{"text": "You are an illustrator."}]},
        "generation_config": {"response_modalities": ["image"]},
    }
    resp = post(gw, "/v1/models/sandbox-image:generateContent", snake)
    assert resp.status_code == 200, resp.text
    part = resp.json()["candidates"][0]["content"]["parts"][0]["inlineData"]
    assert size_of(base64.b64decode(part["data"])) == (90, 60)  # edited the model turn's image
    assert last_usage(gw).prompt_preview == "You are an illustrator.\n\nnow in blue"
    as_array = post(
        gw,
        "/v1beta/models/sandbox-image:streamGenerateContent",
        {"contents": [{"parts": [{"text": "x"}]}], "safety_settings": []},
    )
    assert as_array.status_code == 200 and isinstance(as_array.json(), list)
    assert as_array.headers["x-pixelgate-dropped-params"] == "safety_settings"
    assert upstream.requests == []


def test_errors_in_gemini_shape(gw: Gateway, upstream: GeminiFakeState) -> None:
    stranger, client = sdk(gw, key="pg-not-a-key"), sdk(gw)
    with pytest.raises(errors.ClientError) as bad_key:
        stranger.models.generate_content(model="sandbox-image", contents="x")
    assert (bad_key.value.code, bad_key.value.status) == (401, "UNAUTHENTICATED")
    with pytest.raises(errors.ClientError) as unknown:
        client.models.generate_content(model="no-such-model", contents="x")
    assert (unknown.value.code, unknown.value.status) == (404, "NOT_FOUND")
    resp = post(gw, "/v1beta/models/sandbox-image:generateContent", {"contents": []})
    error = resp.json()["error"]
    assert (resp.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["metadata"] == {"param": "contents"}
    upstream_400 = post(gw, "/v1beta/models/gemini-2.5-flash-image:generateContent", {"x": 1})
    assert upstream_400.status_code == 400
    assert "Cannot find field" in upstream_400.json()["error"]["message"]
    region = post(gw, "/v1beta/models/regional-image:generateContent", {"contents": []})
    assert region.json()["error"]["details"][0]["metadata"] == {"param": "X-Pixelgate-Region"}
    method = post(gw, "/v1/models/sandbox-image:countTokens", {})
    assert method.status_code == 404 and method.json()["error"]["status"] == "NOT_FOUND"
    listed = httpx.get(gw.base_url + "/v1/models", headers=gw.headers)
    assert listed.status_code == 200 and listed.json()["object"] == "list"


def test_upstream_failures_in_gemini_shape(gw: Gateway, upstream: GeminiFakeState) -> None:
    client = sdk(gw)
    with pytest.raises(errors.ServerError) as refused:
        client.models.generate_content(model="badkey-image", contents="x")
    assert refused.value.code == 502 and BAD_KEY not in str(refused.value)
    upstream.stream_error_after = 1
    stream = client.models.generate_content_stream(
        model="gemini-3-pro-image-preview", contents="a cat"
    )
    with pytest.raises(errors.ServerError) as mid_stream:
        list(stream)
    assert (mid_stream.value.code, mid_stream.value.status) == (500, "INTERNAL")
    row = usage_when(gw, lambda row: row.endpoint.endswith(":streamGenerateContent"))
    assert (row.status, row.error_code) == (200, "upstream_error")
    assert BAD_KEY not in gw.logs()


def test_passthrough_is_billed(gw: Gateway, upstream: GeminiFakeState) -> None:
    """A Gemini-native body to a Gemini deployment goes through unchanged and is charged
    from the answer's usage: the balance drops by exactly what the usage row says."""
    created = gw.cli("keys", "create", "--name", "metered", "--balance", "1")
    key = created.stdout.strip().splitlines()[-1]
    client = sdk(gw, key)
    made = client.models.generate_content(model="gemini-2.5-flash-image", contents="a kite")
    assert image_of(made) is not None
    usage = httpx.get(gw.base_url + "/v1/usage", headers={"x-goog-api-key": key}).json()
    balance = usage["balance"]
    assert balance["reserved_micros"] == 0
    assert 0 < balance["spent_micros"] == 1_000_000 - balance["available_micros"]
    row = next(r for r in reversed(usage_rows(gw)) if r.model == "gemini-2.5-flash-image")
    assert row.cost == balance["spent_micros"] and row.images == 1
