"""Self-test of the Gemini upstream fake, driven by the official google-genai SDK and raw httpx."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from tests.fakes.gemini import GeminiFakeState, create_app
from tests.fakes.images import image_b64, image_bytes
from tests.fakes.server import serve

KEY = "fake-gemini-key"
FLASH = "gemini-2.5-flash-image"
PRO = "gemini-3-pro-image-preview"
FLASH31 = "gemini-3.1-flash-image-preview"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, GeminiFakeState]]:
    state = GeminiFakeState()
    with serve(create_app(state)) as url:
        yield url, state


@pytest.fixture
def state(server: tuple[str, GeminiFakeState]) -> GeminiFakeState:
    """The served state, reset to its defaults for each test."""
    current = server[1]
    fresh = GeminiFakeState()
    for f in fields(GeminiFakeState):
        setattr(current, f.name, getattr(fresh, f.name))
    return current


@pytest.fixture
def url(server: tuple[str, GeminiFakeState], state: GeminiFakeState) -> str:
    return server[0]


@pytest.fixture
def client(url: str) -> genai.Client:
    # No retry_options: the SDK makes exactly one attempt.
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, timeout=10_000))


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def image_config(
    aspect: str | None = None,
    size: str | None = None,
    modalities: tuple[str, ...] = ("TEXT", "IMAGE"),
) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_modalities=list(modalities),
        image_config=types.ImageConfig(aspect_ratio=aspect, image_size=size),
    )


def body(prompt: str = "a red fox", **config: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    if config:
        out["generationConfig"] = config
    return out


def post(
    url: str,
    payload: Any,
    model: str = FLASH,
    method: str = "generateContent",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return httpx.post(
        f"{url}/v1beta/models/{model}:{method}",
        content=content,
        headers={"x-goog-api-key": KEY, "content-type": "application/json"}
        if headers is None
        else headers,
        params=params,
        timeout=timeout,
    )


def error_of(response: httpx.Response, code: int, status: str) -> str:
    assert response.status_code == code, response.text[:300]
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    return str(error["message"])


def inline_image(response: dict[str, Any]) -> bytes:
    parts = response["candidates"][0]["content"]["parts"]
    return base64.b64decode(next(p for p in parts if "inlineData" in p)["inlineData"]["data"])


# --- SDK: generation ------------------------------------------------------------------------


def test_sdk_generates_text_and_1k_square_png(client: genai.Client) -> None:
    response = client.models.generate_content(
        model=FLASH, contents="a lighthouse at dusk", config=image_config("1:1")
    )
    parts = response.parts or []
    assert [p.text is not None for p in parts] == [True, False]
    blob = parts[1].inline_data
    assert blob is not None and blob.mime_type == "image/png" and blob.data is not None
    assert size_of(blob.data) == (1024, 1024)
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None and usage.candidates_tokens_details is not None
    image_tokens = {d.modality: d.token_count for d in usage.candidates_tokens_details}
    assert image_tokens[types.MediaModality.IMAGE] == 1290
    assert usage.prompt_token_count and usage.candidates_token_count
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert response.model_version == FLASH and response.response_id


@pytest.mark.parametrize(
    ("model", "aspect", "size", "expected"),
    [
        (FLASH, "9:16", None, (768, 1344)),
        (FLASH, "21:9", None, (1536, 672)),
        (PRO, "16:9", "2K", (2816, 1536)),
        (PRO, "1:1", "4K", (4096, 4096)),
        (FLASH31, "3:2", "1K", (1248, 832)),
        (FLASH31, "1:4", "512", (256, 1024)),
        ("gemini-3-pro-image", "4:5", "1K", (896, 1152)),
    ],
)
def test_sdk_image_dimensions_follow_aspect_ratio_and_size(
    client: genai.Client, model: str, aspect: str, size: str | None, expected: tuple[int, int]
) -> None:
    response = client.models.generate_content(
        model=model, contents="a kite", config=image_config(aspect, size, ("IMAGE",))
    )
    parts = response.parts or []
    assert len(parts) == 1 and parts[0].inline_data and parts[0].inline_data.data
    assert size_of(parts[0].inline_data.data) == expected
    gemini3 = model != FLASH
    assert bool(parts[0].thought_signature) is gemini3
    assert response.usage_metadata is not None
    assert ((response.usage_metadata.thoughts_token_count or 0) > 0) is gemini3


def test_sdk_thought_parts_only_with_include_thoughts(client: genai.Client) -> None:
    config = image_config("1:1", "1K")
    config.thinking_config = types.ThinkingConfig(include_thoughts=True)
    response = client.models.generate_content(model=PRO, contents="a map", config=config)
    parts = response.parts or []
    assert parts[0].thought is True and not parts[-1].thought
    usage = response.usage_metadata
    assert usage is not None and usage.thoughts_token_count == 180
    assert usage.total_token_count == (
        (usage.prompt_token_count or 0) + (usage.candidates_token_count or 0) + 180
    )


def test_sdk_edit_with_reference_image(client: genai.Client, state: GeminiFakeState) -> None:
    reference = image_bytes(600, 300, "JPEG")
    response = client.models.generate_content(
        model=FLASH,
        contents=types.Content(
            role="user",
            parts=[
                types.Part.from_text(text="make it a cartoon"),
                types.Part.from_bytes(data=reference, mime_type="image/jpeg"),
            ],
        ),
        config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"]),
    )
    parts = response.parts or []
    data = parts[-1].inline_data.data if parts[-1].inline_data else None
    assert data is not None and size_of(data) == (1344, 768)  # no aspectRatio: follows 2:1 input
    usage = response.usage_metadata
    assert usage is not None and usage.prompt_tokens_details is not None
    assert {d.modality: d.token_count for d in usage.prompt_tokens_details}[
        types.MediaModality.IMAGE
    ] == 1290
    recorded = state.requests[-1]
    assert recorded.path == f"/v1/models/{FLASH}:generateContent"
    assert recorded.headers["x-goog-api-key"] == KEY
    part = recorded.body["contents"][0]["parts"][1]["inlineData"]
    assert part == {"mimeType": "image/jpeg", "byteLength": len(reference)}
    assert base64.b64encode(reference).decode()[:40] not in repr(state.requests)


def test_sdk_on_v1beta_and_query_key(url: str) -> None:
    client = genai.Client(
        api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version="v1beta")
    )
    response = client.models.generate_content(model=FLASH31, contents="x", config=image_config())
    assert response.parts and response.parts[-1].inline_data
    raw = post(url, body(), headers={"content-type": "application/json"}, params={"key": KEY})
    assert raw.status_code == 200 and size_of(inline_image(raw.json())) == (1024, 1024)


def test_snake_case_body_and_lowercase_modality_accepted(url: str) -> None:
    payload = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "hold the flowers"},
                    {"inline_data": {"mime_type": "image/png", "data": image_b64(32, 32)}},
                ],
            }
        ],
        "generation_config": {
            "response_modalities": ["image"],
            "image_config": {"aspect_ratio": "3:4"},
        },
    }
    response = post(url, payload)
    assert response.status_code == 200, response.text
    parts = response.json()["candidates"][0]["content"]["parts"]
    assert len(parts) == 1 and size_of(inline_image(response.json())) == (864, 1184)


# --- SDK: streaming -------------------------------------------------------------------------


def test_sdk_stream_yields_text_then_image(client: genai.Client) -> None:
    chunks = list(
        client.models.generate_content_stream(
            model=PRO, contents="a cat", config=image_config("16:9", "1K")
        )
    )
    assert len(chunks) == 2
    first, last = chunks
    assert first.text == "Here is your image." and first.usage_metadata is None
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.parts and last.parts[0].inline_data and last.parts[0].inline_data.data
    assert size_of(last.parts[0].inline_data.data) == (1408, 768)
    assert last.usage_metadata and last.usage_metadata.candidates_token_count == 1125
    assert first.response_id == last.response_id


def test_raw_sse_framing(url: str) -> None:
    response = post(url, body(), method="streamGenerateContent", params={"alt": "sse"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.content.split(b"\r\n\r\n") if e]
    assert all(e.startswith(b"data: {") for e in events) and b"[DONE]" not in response.content
    last = orjson.loads(events[-1][len(b"data: ") :])
    assert last["candidates"][0]["finishReason"] == "STOP" and "usageMetadata" in last


def test_stream_without_alt_sse_is_a_json_array(url: str) -> None:
    response = post(url, body(), method="streamGenerateContent")
    chunks = response.json()
    assert isinstance(chunks, list) and len(chunks) == 2
    assert size_of(inline_image(chunks[-1])) == (1024, 1024)


def test_sdk_stream_mid_stream_error(client: genai.Client, state: GeminiFakeState) -> None:
    state.stream_error_after = 1
    stream = client.models.generate_content_stream(model=FLASH, contents="x", config=image_config())
    with pytest.raises(errors.ServerError) as caught:
        list(stream)
    assert caught.value.code == 500 and caught.value.status == "INTERNAL"


# --- SDK: safety outcomes -------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "NO_IMAGE"])
def test_sdk_finish_reason_blocks(
    client: genai.Client, state: GeminiFakeState, reason: str
) -> None:
    state.block = reason
    response = client.models.generate_content(model=PRO, contents="x", config=image_config())
    assert response.candidates and response.candidates[0].finish_reason == reason
    assert response.parts is None
    assert response.usage_metadata and response.usage_metadata.candidates_token_count is None
    chunks = list(client.models.generate_content_stream(model=PRO, contents="x"))
    assert len(chunks) == 1 and chunks[0].candidates
    assert chunks[0].candidates[0].finish_reason == reason


def test_sdk_prompt_blocked(client: genai.Client, state: GeminiFakeState) -> None:
    state.block_words = {"forbidden": "prompt_blocked"}
    response = client.models.generate_content(
        model=FLASH, contents="something FORBIDDEN", config=image_config()
    )
    assert response.candidates is None and response.prompt_feedback is not None
    assert response.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    fine = client.models.generate_content(model=FLASH, contents="a tree", config=image_config())
    assert fine.parts and fine.parts[-1].inline_data


def test_sdk_text_only_answer(client: genai.Client, state: GeminiFakeState) -> None:
    state.text_only_words = {"describe"}
    response = client.models.generate_content(
        model=FLASH, contents="describe a sunset", config=image_config()
    )
    assert response.parts and len(response.parts) == 1 and response.text
    assert response.candidates and response.candidates[0].finish_reason == "STOP"
    image_only = client.models.generate_content(
        model=FLASH, contents="describe a sunset", config=image_config(modalities=("IMAGE",))
    )
    assert image_only.candidates and image_only.candidates[0].finish_reason == "NO_IMAGE"


# --- raw HTTP: auth, model, validation ------------------------------------------------------


def test_auth_failures(url: str) -> None:
    no_key = post(url, body(), headers={"content-type": "application/json"})
    assert "unregistered callers" in error_of(no_key, 403, "PERMISSION_DENIED")
    bad = post(url, body(), headers={"x-goog-api-key": "nope"})
    assert error_of(bad, 400, "INVALID_ARGUMENT").startswith("API key not valid")
    assert bad.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    bearer = post(url, body(), headers={"authorization": "Bearer ya29.x"})
    error_of(bearer, 401, "UNAUTHENTICATED")


def test_sdk_bad_key_raises_client_error(url: str) -> None:
    client = genai.Client(api_key="nope", http_options=types.HttpOptions(base_url=url))
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=FLASH, contents="x")
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")


def test_unknown_model_is_404(url: str) -> None:
    message = error_of(post(url, body(), model="gemini-9-image"), 404, "NOT_FOUND")
    assert message.startswith("models/gemini-9-image is not found for API version v1beta")
    error_of(post(url, body(), model="imagen-4.0-generate-001"), 404, "NOT_FOUND")


def test_image_size_on_model_without_it(url: str, state: GeminiFakeState) -> None:
    payload = body(imageConfig={"aspectRatio": "1:1", "imageSize": "4K"})
    ignored = post(url, payload)
    assert ignored.status_code == 200 and size_of(inline_image(ignored.json())) == (1024, 1024)
    state.strict_image_size = True
    error_of(post(url, payload), 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("model", "image_config"),
    [
        (PRO, {"imageSize": "1k"}),
        (PRO, {"imageSize": "512"}),
        (FLASH31, {"imageSize": "8K"}),
        (FLASH, {"aspectRatio": "1:8"}),
        (PRO, {"aspectRatio": "7:3"}),
        (PRO, {"personGeneration": "ALLOW_ALL"}),
    ],
)
def test_image_config_values_rejected(url: str, model: str, image_config: dict[str, str]) -> None:
    error_of(post(url, body(imageConfig=image_config), model=model), 400, "INVALID_ARGUMENT")


def image_body(data: str, mime: str = "image/png") -> dict[str, Any]:
    parts = [{"text": "edit"}, {"inlineData": {"mimeType": mime, "data": data}}]
    return {"contents": [{"role": "user", "parts": parts}]}


@pytest.mark.parametrize(
    ("data", "mime", "fragment"),
    [
        ("!!not base64!!", "image/png", "Base64 decoding failed"),
        ("data:image/png;base64," + image_b64(8, 8), "image/png", "Base64 decoding failed"),
        (base64.b64encode(b"plain text, not an image").decode(), "image/png", "not valid"),
        (image_b64(8, 8), "image/gif", "Unsupported MIME type"),
    ],
)
def test_reference_image_rejected(url: str, data: str, mime: str, fragment: str) -> None:
    assert fragment in error_of(post(url, image_body(data, mime)), 400, "INVALID_ARGUMENT")


def test_url_safe_unpadded_base64_accepted(url: str) -> None:
    data = base64.urlsafe_b64encode(image_bytes(10, 10)).decode().rstrip("=")
    assert post(url, image_body(data)).status_code == 200


@pytest.mark.parametrize(
    ("model", "payload", "fragment"),
    [
        (FLASH, b"{not json", "Invalid JSON payload"),
        (FLASH, {"generationConfig": {}}, "contents is not specified"),
        (FLASH, {**body(), "prompt": "x"}, 'Unknown name "prompt"'),
        (FLASH, body(responseModalities=["TEXT"]), "response modalities: text"),
        (FLASH, body(responseModalities=["PICTURE"]), "response_modalities[0]"),
        (FLASH, body(candidateCount=2), "Multiple candidates"),
        (FLASH, {"contents": [{"role": "user", "parts": []}]}, "must not be empty"),
        (FLASH, {"contents": [{"role": "user", "parts": [{}]}]}, "oneof field 'data'"),
        (FLASH, {"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "valid role"),
    ],
)
def test_request_validation(url: str, model: str, payload: Any, fragment: str) -> None:
    assert fragment in error_of(post(url, payload, model=model), 400, "INVALID_ARGUMENT")


def test_reference_image_limits_and_signatures(url: str, state: GeminiFakeState) -> None:
    four = [{"inlineData": {"mimeType": "image/png", "data": image_b64(8, 8)}}] * 4
    too_many = {"contents": [{"role": "user", "parts": [{"text": "mix"}, *four]}]}
    error_of(post(url, too_many), 400, "INVALID_ARGUMENT")
    assert post(url, too_many, model=PRO).status_code == 200
    image_part = {"inlineData": {"mimeType": "image/png", "data": image_b64(8, 8)}}
    history = {
        "contents": [
            {"role": "user", "parts": [{"text": "draw"}]},
            {"role": "model", "parts": [image_part]},
            {"role": "user", "parts": [{"text": "now blue"}]},
        ]
    }
    message = error_of(post(url, history, model=PRO), 400, "INVALID_ARGUMENT")
    assert "content position 2, part position 1" in message
    assert post(url, history, model=FLASH).status_code == 200
    history["contents"][1]["parts"] = [{**image_part, "thoughtSignature": "c2ln"}]
    assert post(url, history, model=PRO).status_code == 200
    state.max_request_bytes = 20
    assert "exceeds the limit" in error_of(post(url, body()), 400, "INVALID_ARGUMENT")


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ("status_500", 500, "INTERNAL"),
        ("status_502", 502, "UNAVAILABLE"),
        ("status_503", 503, "UNAVAILABLE"),
        ("status_401", 401, "UNAUTHENTICATED"),
        ("status_403", 403, "PERMISSION_DENIED"),
    ],
)
def test_status_faults(
    url: str, state: GeminiFakeState, fault: str, code: int, status: str
) -> None:
    state.faults.queue(fault)
    error_of(post(url, body()), code, status)
    assert post(url, body()).status_code == 200  # queued faults hit one request each


def test_429_fault_has_retry_after(url: str, state: GeminiFakeState) -> None:
    state.faults.retry_after = 7
    state.faults.queue("status_429")
    response = post(url, body())
    error_of(response, 429, "RESOURCE_EXHAUSTED")
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["details"][0]["retryDelay"] == "7s"


def test_sdk_sees_fault_and_retries_when_asked(url: str, state: GeminiFakeState) -> None:
    state.faults.sticky = "status_503"
    plain = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url))
    with pytest.raises(errors.ServerError) as caught:
        plain.models.generate_content(model=FLASH, contents="x")
    assert caught.value.code == 503
    state.faults.sticky = None
    state.faults.queue("status_503")
    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01, max_delay=0.02, jitter=0)
    retrying = genai.Client(
        api_key=KEY, http_options=types.HttpOptions(base_url=url, retry_options=retry)
    )
    response = retrying.models.generate_content(model=FLASH, contents="x")
    assert response.parts and response.parts[-1].inline_data


def test_timeout_fault(url: str, state: GeminiFakeState) -> None:
    state.faults.hang_seconds = 1.0
    state.faults.queue("timeout")
    with pytest.raises(httpx.ReadTimeout):
        post(url, body(), timeout=0.2)
    assert post(url, body()).status_code == 200


def test_malformed_json_fault(url: str, state: GeminiFakeState) -> None:
    state.faults.queue("malformed_json")
    response = post(url, body())
    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


def test_truncated_fault(url: str, state: GeminiFakeState) -> None:
    state.faults.queue("truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        post(url, body())


def test_slow_drip_fault(url: str, state: GeminiFakeState) -> None:
    state.faults.drip_delay = 0.001
    state.faults.queue("slow_drip", "slow_drip")
    response = post(url, body())
    assert size_of(inline_image(response.json())) == (1024, 1024)
    sse = post(url, body(), method="streamGenerateContent", params={"alt": "sse"})
    events = [e for e in sse.content.split(b"\r\n\r\n") if e]
    assert len(events) == 2 and size_of(inline_image(orjson.loads(events[1][6:]))) == (1024, 1024)


# --- Imagen :predict ------------------------------------------------------------------------


def test_imagen_predict(url: str, state: GeminiFakeState) -> None:
    payload = {
        "instances": [{"prompt": "a bunny"}],
        "parameters": {"sampleCount": 2, "aspectRatio": "16:9", "sampleImageSize": "2k"},
    }
    response = post(url, payload, model="imagen-4.0-generate-001", method="predict")
    predictions = response.json()["predictions"]
    assert len(predictions) == 2 and predictions[0]["mimeType"] == "image/png"
    assert size_of(base64.b64decode(predictions[0]["bytesBase64Encoded"])) == (2816, 1536)
    vertex_only = {**payload, "parameters": {"negativePrompt": "dogs"}}
    error_of(
        post(url, vertex_only, model="imagen-4.0-generate-001", method="predict"),
        400,
        "INVALID_ARGUMENT",
    )
    state.block = "prompt_blocked"
    assert post(url, payload, model="imagen-4.0-generate-001", method="predict").json() == {}
    state.imagen_enabled = False
    error_of(
        post(url, payload, model="imagen-4.0-generate-001", method="predict"), 404, "NOT_FOUND"
    )
