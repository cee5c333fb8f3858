"""JSONResponse sends a passed-through image from the upstream's bytes, in parts whose
concatenation is exactly the answer rendered with the image as a string."""

from __future__ import annotations

import orjson
import pytest
from starlette.types import Message

from pixelgate.core.b64 import RawB64, json_default
from pixelgate.http.jsonio import JSONResponse, dumps, render_parts

B64 = b"iVBORw0KGgo" + b"QUJD" * 5000 + b"=="


def _raw(text: bytes) -> RawB64:
    upstream = b'{"data":[{"b64_json":"' + text + b'"}]}'
    start = upstream.index(text)
    return RawB64(memoryview(upstream)[start : start + len(text)])


def _as_text(node: object) -> object:
    if isinstance(node, RawB64):
        return str(node)
    if isinstance(node, dict):
        return {k: _as_text(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_as_text(v) for v in node]
    return node


CONTENTS = [
    {"created": 1, "data": [{"b64_json": _raw(B64), "revised_prompt": 'a "quoted" é'}]},
    {"data": [{"b64_json": _raw(B64)}, {"b64_json": _raw(b"QUJD" * 3)}], "usage": {"n": 2}},
    [{"inlineData": {"mimeType": "image/png", "data": _raw(B64)}}],
    {"data": [{"b64_json": "plain string"}]},
    {"text": "\x00raw-not-a-placeholder"},
]


@pytest.mark.parametrize("content", CONTENTS)
def test_parts_join_to_the_rendered_answer(content: object) -> None:
    expected = orjson.dumps(_as_text(content))
    parts = render_parts(content)
    assert b"".join(bytes(p) for p in parts) == expected
    assert dumps(content) == expected
    assert orjson.dumps(content, default=json_default) == expected
    # The image bytes are sent from the upstream's answer, not copied.
    views = [p for p in parts if isinstance(p, memoryview)]
    assert len(views) == sum(1 for _ in _raws(content))


def _raws(node: object) -> list[RawB64]:
    if isinstance(node, RawB64):
        return [node]
    if isinstance(node, dict):
        return [r for v in node.values() for r in _raws(v)]
    if isinstance(node, list):
        return [r for v in node for r in _raws(v)]
    return []


async def test_response_in_parts_has_the_right_length_and_body() -> None:
    content = CONTENTS[0]
    response = JSONResponse(content, headers={"X-A": "1"})
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    await response({"type": "http", "method": "POST"}, receive, send)
    expected = orjson.dumps(_as_text(content))
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(expected)).encode()
    assert headers[b"content-type"] == b"application/json"
    assert b"".join(bytes(m["body"]) for m in sent[1:]) == expected
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, False]


def test_unknown_types_still_fail() -> None:
    with pytest.raises(TypeError):
        render_parts({"x": object()})
