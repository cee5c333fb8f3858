"""A fast fake OpenAI Images upstream for benchmarks.

`POST /v1/images/generations` answers with one PNG as base64 (about 1.5 MB of text by
default), pre-encoded once at start-up and served from memory, so the fake costs almost
nothing per request and the measurement is the gateway's. `--delay` holds each answer open
(the 20 s upstream of the 2,000-connection scenario); `GET /healthz` says it is up.

Example::

    python -m bench.fake_upstream --port 9001 --delay 0
    curl -s localhost:9001/v1/images/generations -H 'Authorization: Bearer x' \\
        -d '{"model": "gpt-image-1", "prompt": "fox"}'
    {"created": 1700000000, "data": [{"b64_json": "iVBORw0KGgo..."}], "output_format": "png", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import math
import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from PIL import Image

__all__ = ["FakeUpstream", "main", "make_png"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_B64_BYTES = 1_500_000


def make_png(b64_bytes: int, seed: int = 1234) -> bytes:
    """A noise PNG (incompressible, so its size is predictable) whose base64 is about
    `b64_bytes` long."""
    side = max(8, math.isqrt(b64_bytes * 3 // 4 // 3))
    pixels = random.Random(seed).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


class FakeUpstream:
    """The ASGI app. Raw ASGI rather than a framework, so its own overhead stays tiny."""

    def __init__(self, b64_bytes: int = DEFAULT_B64_BYTES, delay: float = 0.0) -> None:
        self.delay = delay
        png = make_png(b64_bytes)
        self.body = orjson.dumps(
            {
                "created": 1700000000,
                "data": [{"b64_json": base64.b64encode(png).decode("ascii")}],
                "background": "opaque",
                "output_format": "png",
                "quality": "medium",
                "size": "1024x1024",
                "usage": {
                    "input_tokens": 10,
                    "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
                    "output_tokens": 1056,
                    "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0},
                    "total_tokens": 1066,
                },
            }
        )
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        while True:  # drain the request body
            message = await receive()
            if not message.get("more_body"):
                break
        if method == "GET" and path == "/healthz":
            await _answer(send, 200, b'{"status":"ok"}')
            return
        if method != "POST" or not path.endswith("/images/generations"):
            await _answer(send, 404, b'{"error":{"message":"not found","type":"invalid"}}')
            return
        headers = dict(scope["headers"])
        if not headers.get(b"authorization", b"").startswith(b"Bearer "):
            await _answer(send, 401, b'{"error":{"message":"no key","type":"invalid"}}')
            return
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        await _answer(send, 200, self.body)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--b64-bytes", type=int, default=DEFAULT_B64_BYTES)
    args = parser.parse_args()
    app = FakeUpstream(args.b64_bytes, args.delay)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=120,
    )


if __name__ == "__main__":
    main()
