"""Fast JSON in and out (orjson).

An answer that passes an upstream's base64 image through unchanged holds it as a `RawB64`,
a view of the upstream's own bytes (http.bigjson, core.b64). `JSONResponse` renders the
rest of the answer with orjson and sends the image's bytes from that view, between the
rendered parts: no 1.5 MB string and no 1.5 MB rendered copy are made, and the answer is
byte for byte what rendering the string would give (the view holds plain base64, which
JSON writes as it is). Those body messages carry a `memoryview`, which uvicorn (the
server `pixelgate serve` runs) writes as it does bytes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from pixelgate.core.b64 import RawB64, json_default
from pixelgate.errors import InvalidParameter, RequestError, UnsupportedMediaType

__all__ = ["JSONResponse", "dumps", "read_json_object", "render_parts"]

Part = bytes | memoryview


def dumps(content: Any) -> bytes:
    """orjson.dumps, with any RawB64 written as its string (a copy; for small frames)."""
    return orjson.dumps(content, default=json_default)


def render_parts(content: Any) -> list[Part]:
    """`content` as JSON, in parts whose concatenation is `dumps(content)`: the rendered
    text, with each RawB64's bytes as a part of its own, left where they are."""
    views: list[memoryview] = []
    nonce = secrets.token_hex(6)

    def mark(obj: object) -> str:
        if isinstance(obj, RawB64):
            views.append(obj.view)
            return f"\x00raw-{nonce}-{len(views) - 1}"
        raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")

    rendered = orjson.dumps(content, default=mark)
    if not views:
        return [rendered]
    parts: list[Part] = []
    pos = 0
    for i, view in enumerate(views):
        # The placeholder as orjson wrote it (its NUL escaped), between the quotes.
        token = orjson.dumps(f"\x00raw-{nonce}-{i}")[1:-1]
        at = rendered.index(token, pos)
        parts += (rendered[pos:at], view)
        pos = at + len(token)
    parts.append(rendered[pos:])
    return parts


class JSONResponse(Response):
    """orjson-rendered; an answer holding a RawB64 is sent in parts (`parts`), and its
    `body` is then empty."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.parts = render_parts(content)
        self.body = self.parts[0] if len(self.parts) == 1 else b""
        self.init_headers(headers)
        if len(self.parts) > 1:
            length = str(sum(len(p) for p in self.parts)).encode()
            self.raw_headers = [
                (name, length if name == b"content-length" else value)
                for name, value in self.raw_headers
            ]

    def render(self, content: Any) -> bytes:
        return dumps(content)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if len(self.parts) == 1:
            await super().__call__(scope, receive, send)
            return
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        for part in self.parts[:-1]:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": self.parts[-1]})
        if self.background is not None:
            await self.background()


async def read_json_object(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    if ctype and ctype.split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            f"Unsupported Content-Type {ctype.split(';', 1)[0]!r}: send application/json."
        )
    body = await request.body()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(
            "We could not parse the JSON body of your request. Send valid JSON."
        ) from None
    if not isinstance(data, dict):
        raise InvalidParameter("The JSON body must be an object.")
    return data
