"""The official `openai` SDK's chat.completions through the gateway: Gemini image models
over the Gemini fake, and the sandbox with no upstream credentials (seed 000)."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import openai
import pytest
from PIL import Image

from tests.e2e.gemini.conftest import UPSTREAM_KEY, usage_when
from tests.fakes.gemini import GeminiFakeState
from tests.fakes.images import image_bytes
from tests.support.db import last_usage
from tests.support.gateway import Gateway

DATA_URL = re.compile(r"!\[image\]\(data:image/png;base64,([^)]+)\)")


def client(gw: Gateway, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gw.base_url + "/v1", api_key=gw.key, max_retries=0, default_headers=headers
    )


def size_of(b64: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        return img.size


def user(content: Any) -> list[Any]:
    return [{"role": "user", "content": content}]


def test_image_in_content_and_in_images(gw: Gateway, upstream: GeminiFakeState) -> None:
    result = client(gw, **{"X-TokenHub-Region": "global"}).chat.completions.create(
        model="tokenhub/gemini-3.1-flash-image-preview", messages=user("画一只橘猫,摄影风格")
    )
    assert result.object == "chat.completion" and result.id.startswith("chatcmpl-")
    assert result.model == "gemini-3.1-flash-image-preview"
    choice = result.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content or ""
    from_content = DATA_URL.findall(content)
    assert len(from_content) == 1 and size_of(from_content[0]) == (1024, 1024)
    images = (choice.message.model_extra or {})["images"]
    assert images[0]["type"] == "image_url" and images[0]["index"] == 0
    assert images[0]["image_url"]["url"] == f"data:image/png;base64,{from_content[0]}"
    assert content.startswith("Here is your image.\n\n![image](")
    usage = result.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.image_tokens == 1120  # type: ignore[attr-defined]
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    sent = upstream.requests[-1]
    assert sent.path == "/v1/models/gemini-3.1-flash-image-preview:generateContent"
    assert sent.headers["x-goog-api-key"] == UPSTREAM_KEY
    assert sent.body["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"]}
    row = last_usage(gw)
    assert (row.dialect, row.status, row.images, row.model) == (
        "openai_chat",
        200,
        1,
        "gemini-3.1-flash-image-preview",
    )


def test_text_only_question_gets_plain_text(gw: Gateway, upstream: GeminiFakeState) -> None:
    upstream.text_only_words = {"2+2"}
    result = client(gw).chat.completions.create(
        model="gemini-3-pro-image-preview", messages=user("2+2等于几?只回答数字")
    )
    message = result.choices[0].message
    assert message.content and message.content.startswith("I can only describe it in words")
    assert "data:image" not in message.content and "images" not in (message.model_extra or {})
    assert result.usage and result.usage.completion_tokens_details
    assert result.usage.completion_tokens_details.image_tokens == 0  # type: ignore[attr-defined]


def test_reference_images_and_image_config(
    gw: Gateway, upstream: GeminiFakeState, refs: str
) -> None:
    jpeg = image_bytes(48, 32, "JPEG")
    content = [
        {"type": "text", "text": "Make this photo look like a watercolor"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()},
        },
        {"type": "image_url", "image_url": {"url": refs + "/ref.png", "detail": "auto"}},
    ]
    result = client(gw).chat.completions.create(
        model="gemini-3-pro-image-preview",
        messages=[{"role": "system", "content": "You are an illustrator."}, *user(content)],
        extra_body={
            "modalities": ["image", "text"],
            "image_config": {"aspect_ratio": "16:9", "image_size": "2K"},
        },
    )
    images = (result.choices[0].message.model_extra or {})["images"]
    assert size_of(images[0]["image_url"]["url"].split(",", 1)[1]) == (2816, 1536)
    body = upstream.requests[-1].body
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"text": "You are an illustrator.\n\nMake this photo look like a watercolor"}
    assert parts[1]["inlineData"] == {"mimeType": "image/jpeg", "byteLength": len(jpeg)}
    assert parts[2]["inlineData"]["mimeType"] == "image/png"
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert last_usage(gw).operation == "edit"


def test_follow_up_edits_the_previous_answer(gw: Gateway, upstream: GeminiFakeState) -> None:
    first = client(gw).chat.completions.create(
        model="gemini-2.5-flash-image", messages=user("a red kite")
    )
    answer = first.choices[0].message.content or ""
    second = client(gw).chat.completions.create(
        model="gemini-2.5-flash-image",
        messages=[
            *user("a red kite"),
            {"role": "assistant", "content": answer},
            *user("now make it blue"),
        ],
    )
    assert DATA_URL.search(second.choices[0].message.content or "")
    parts = upstream.requests[-1].body["contents"][0]["parts"]
    assert parts[0] == {"text": "now make it blue"} and "inlineData" in parts[1]


def test_streaming_gives_chunks_images_usage_and_done(
    gw: Gateway, upstream: GeminiFakeState
) -> None:
    stream = client(gw).chat.completions.create(
        model="gemini-3-pro-image-preview",
        messages=user("a cat"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.startswith("Here is your image.\n\n![image](data:image/png;base64,")
    images = [
        item
        for c in chunks
        if c.choices
        for item in (c.choices[0].delta.model_extra or {}).get("images") or []
    ]
    assert len(images) == 1 and size_of(images[0]["image_url"]["url"].split(",", 1)[1]) == (
        1024,
        1024,
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert not chunks[-1].choices and usage is not None and usage.completion_tokens_details
    assert usage.completion_tokens_details.image_tokens == 1120  # type: ignore[attr-defined]
    sent = upstream.requests[-1]
    assert sent.path.endswith(":streamGenerateContent") and sent.query == {"alt": "sse"}
    assert last_usage(gw).images == 1


def test_sandbox_serves_chat_without_credentials(gw: Gateway, upstream: GeminiFakeState) -> None:
    for model in ("sandbox-image", "local-gemini"):
        result = client(gw).chat.completions.create(model=model, messages=user("a lighthouse"))
        found = DATA_URL.findall(result.choices[0].message.content or "")
        assert len(found) == 1 and size_of(found[0]) == (1024, 1024)
        stream = client(gw).chat.completions.create(
            model=model, messages=user("a lighthouse"), stream=True
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert DATA_URL.findall(streamed) == found  # deterministic sandbox
    assert upstream.requests == []


@pytest.mark.parametrize("outcome", ["IMAGE_SAFETY", "PROHIBITED_CONTENT", "prompt_blocked"])
def test_safety_blocks_are_content_policy_errors(
    gw: Gateway, upstream: GeminiFakeState, outcome: str
) -> None:
    upstream.block = outcome
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as info:
            result = client(gw).chat.completions.create(
                model="gemini-2.5-flash-image", messages=user("x"), stream=stream
            )
            list(result) if stream else None  # type: ignore[call-overload]
        assert info.value.code == "content_policy_violation"
        assert "blocked" in info.value.message
        row = last_usage(gw)
        assert (row.status, row.error_code, row.images) == (400, "content_policy_violation", 0)


def test_mid_stream_failure_is_an_error_event(gw: Gateway, upstream: GeminiFakeState) -> None:
    upstream.stream_error_after = 1
    stream = client(gw).chat.completions.create(
        model="gemini-3-pro-image-preview", messages=user("a cat"), stream=True
    )
    with pytest.raises(openai.APIError) as info:
        list(stream)
    assert "Gemini upstream" in info.value.message
    request_id = stream.response.headers["x-request-id"]
    row = usage_when(gw, lambda row: row.request_id == request_id)
    assert (row.status, row.error_code) == (200, "upstream_error")


def test_region_header_rules(gw: Gateway, upstream: GeminiFakeState) -> None:
    with pytest.raises(openai.BadRequestError) as missing:
        client(gw).chat.completions.create(model="regional-image", messages=user("x"))
    assert missing.value.param == "X-Pixelgate-Region"
    assert "X-Pixelgate-Region" in missing.value.message
    with pytest.raises(openai.BadRequestError) as unknown:
        client(gw, **{"X-Pixelgate-Region": "mars"}).chat.completions.create(
            model="regional-image", messages=user("x")
        )
    assert unknown.value.param == "X-Pixelgate-Region"
    sandbox = client(gw, **{"X-Pixelgate-Region": "cn"}).chat.completions.create(
        model="regional-image", messages=user("x")
    )
    assert DATA_URL.search(sandbox.choices[0].message.content or "") and not upstream.requests
    google = client(gw, **{"X-TokenHub-Region": "Global"}).chat.completions.create(
        model="regional-image", messages=user("x")
    )
    assert DATA_URL.search(google.choices[0].message.content or "")
    assert upstream.requests[-1].path.endswith("gemini-3.1-flash-image-preview:generateContent")
    assert last_usage(gw).deployment == "google/gemini-3.1-flash-image-preview"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"n": 2}, "n"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        (
            {"messages": user([{"type": "input_audio", "input_audio": {}}])},
            "messages[0].content[0]",
        ),
        (
            {"messages": user([{"type": "image_url", "image_url": {"url": "ftp://x"}}])},
            "messages[0].content[0].image_url",
        ),
        ({"extra_body": {"image_config": {"aspect_ratio": "7:3"}}}, "aspect_ratio"),
        ({"extra_body": {"image_config": {"image_size": "2K"}}}, "resolution"),
    ],
)
def test_bad_chat_requests_name_the_param(
    gw: Gateway, upstream: GeminiFakeState, kwargs: dict[str, Any], param: str
) -> None:
    args: dict[str, Any] = {"model": "gemini-2.5-flash-image", "messages": user("x"), **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        client(gw).chat.completions.create(**args)
    assert info.value.param == param
    assert upstream.requests == []
