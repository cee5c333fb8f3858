"""Both upstream clients (aiohttp, the default, and httpx) give the same answers and the
same gateway errors on a real loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pixelgate.core.executor import Executor
from pixelgate.errors import UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from pixelgate.providers.base import UpstreamRequest
from pixelgate.settings import Timeouts
from tests.fakes.server import free_port, serve

CLIENTS = ["aiohttp", "httpx"]


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {"body": body.decode(), "q": request.query_params.get("q"), "h": request.headers["x-t"]},
        status_code=int(request.query_params.get("status", "200")),
        headers={"Retry-After": "7", "Set-Cookie": "a=b"},
    )


async def _hang(request: Request) -> Response:
    await asyncio.sleep(3)
    return Response(b"late")


async def _truncated(request: Request) -> Response:
    return Response(b'{"a":', headers={"content-length": "100"})


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/echo", _echo, methods=["POST"]),
            Route("/hang", _hang, methods=["POST"]),
            Route("/truncated", _truncated, methods=["POST"]),
        ]
    )
    with serve(app) as url:
        yield url


@pytest.mark.parametrize("client", CLIENTS)
async def test_answers_and_errors(upstream: str, client: str) -> None:
    executor = Executor(client=client)  # type: ignore[arg-type]
    t = Timeouts(connect=2, read=0.5, total=5)
    try:
        req = UpstreamRequest(
            "POST", upstream + "/echo", {"X-T": "v"}, b"hello", {"q": "1", "status": "429"}
        )
        resp = await executor.send(req, t)
        assert resp.status == 429
        assert resp.headers["retry-after"] == "7"  # lower-case names, like httpx
        assert resp.body == b'{"body":"hello","q":"1","h":"v"}'
        # No cookie jar: a cookie one upstream call set is never sent with the next.
        again = await executor.send(UpstreamRequest("POST", upstream + "/echo", {"X-T": "v"}), t)
        assert again.status == 200
        with pytest.raises(UpstreamTimeout):
            await executor.send(UpstreamRequest("POST", upstream + "/hang"), t)
        with pytest.raises(UpstreamBadResponse):
            await executor.send(UpstreamRequest("POST", upstream + "/truncated"), t)
        closed = f"http://127.0.0.1:{free_port()}/echo"
        with pytest.raises(UpstreamUnavailable):
            await executor.send(UpstreamRequest("POST", closed), t)
    finally:
        await executor.aclose()
