"""Both upstream clients (aiohttp, the default, and httpx) give the same answers and the
same gateway errors on a real loopback server."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pixelgate.core.executor import Executor
from pixelgate.core.gated_reads import (
    SMALL_READ,
    TLS_SMALL_BUFFER,
    GatedConnector,
    GatedResponseHandler,
    open_reads,
)
from pixelgate.core.upstream_client import AiohttpClient
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


BIG = bytes(range(256)) * (2 * 1024 * 1024 // 256)


async def _big(request: Request) -> Response:
    return Response(BIG, media_type="application/octet-stream")


async def _truncated(request: Request) -> Response:
    return Response(b'{"a":', headers={"content-length": "100"})


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/echo", _echo, methods=["POST"]),
            Route("/hang", _hang, methods=["POST"]),
            Route("/truncated", _truncated, methods=["POST"]),
            Route("/big", _big, methods=["POST"]),
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


class _Gate:
    """A body gate that holds every body until `opened` is set, noting what it was asked."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = asyncio.Event()
        self.asked: list[int | None] = []
        self.read: list[tuple[int, int]] = []

    async def admit_body(self, declared: int | None) -> int:
        self.asked.append(declared)
        self.waiting.set()
        await self.opened.wait()
        return declared or 0

    def body_read(self, counted: int, size: int) -> None:
        self.read.append((counted, size))


def _aiohttp_buffered(executor: Executor) -> tuple[int, bool]:
    """(bytes aiohttp holds for the answers in flight, whether their reading is paused)."""
    upstream = executor.upstream
    assert isinstance(upstream, AiohttpClient) and upstream._session is not None
    connector = upstream._session.connector
    assert connector is not None
    protocols = list(connector._acquired)
    held = sum(p._payload._size for p in protocols if p._payload is not None)
    return held, bool(protocols) and all(p._reading_paused for p in protocols)


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_body_is_read_only_once_admitted(upstream: str, client: str) -> None:
    executor = Executor(client=client)  # type: ignore[arg-type]
    gate = _Gate()
    t = Timeouts(connect=2, read=5, total=10)
    try:
        call = asyncio.create_task(
            executor.upstream.send(UpstreamRequest("POST", upstream + "/big"), t, gate)
        )
        await gate.waiting.wait()
        assert gate.asked == [len(BIG)]
        if client == "aiohttp":
            # Before admission only small reads happen, and aiohttp stops reading soon.
            for _ in range(500):
                held, paused = _aiohttp_buffered(executor)
                if paused:
                    break
                await asyncio.sleep(0.01)
            assert paused and held <= 3 * SMALL_READ, held
        assert not call.done()
        gate.opened.set()
        resp = await call
        assert resp.status == 200 and resp.body == BIG
        assert gate.read == [(len(BIG), len(BIG))]
        # The connection is reused for the next call, which starts with small reads again.
        again = await executor.upstream.send(UpstreamRequest("POST", upstream + "/big"), t, gate)
        assert again.body == BIG
    finally:
        await executor.aclose()


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp / "key.pem", tmp / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


async def test_over_tls_the_tls_buffer_is_held_small_too(tmp_path: Path) -> None:
    """Over TLS the TLS layer buffers what it receives (256 KiB by default): before
    admission that is held small as well, and the body still arrives whole."""
    key, cert = _self_signed(tmp_path)
    app = Starlette(routes=[Route("/big", _big, methods=["POST"])])
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_keyfile=str(key),
        ssl_certfile=str(cert),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    connector = GatedConnector(ssl=client_ctx)
    try:
        async with aiohttp.ClientSession(connector=connector, read_bufsize=SMALL_READ) as session:
            url = f"https://127.0.0.1:{port}/big"
            async with session.post(url) as resp:
                protocol = resp.connection.protocol if resp.connection else None
                assert isinstance(protocol, GatedResponseHandler)
                transport = protocol.transport
                assert transport is not None
                for _ in range(500):
                    if protocol._reading_paused and transport.get_read_buffer_size() > 0:
                        break
                    await asyncio.sleep(0.01)
                # The TLS layer stops reading the socket past the small limit (one read
                # may land on top of it), where by default it would go on to 256 KiB.
                assert transport.get_read_buffer_limits()[1] == TLS_SMALL_BUFFER
                assert transport.get_read_buffer_size() < 256 * 1024
                assert resp.content._size <= 3 * SMALL_READ
                open_reads(resp)
                assert transport.get_read_buffer_limits()[1] == 256 * 1024
                assert await resp.read() == BIG
    finally:
        server.should_exit = True
        thread.join(timeout=10)
