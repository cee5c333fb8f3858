"""The two HTTP clients the executor can send upstream calls with, chosen by measurement.

`PIXELGATE_UPSTREAM_CLIENT=aiohttp` (the default) or `httpx`. Both hold one pooled,
keep-alive client per process and turn transport failures into the same retryable gateway
errors. aiohttp is the default because bench/ measured it much cheaper per call on image
answers (its C parser reads a 1.5 MB body in a few large chunks; httpx goes through
httpcore, h11 and anyio per 64 KB read) — see docs/benchmarks.md. httpx stays available,
and still serves streaming calls and URL fetches, which need its pinned-connection
transport (safe_fetch) or are rare.

Example: `await client.send(UpstreamRequest("POST", url, headers, body, {}), timeouts)` →
`UpstreamResponse(200, {"content-type": "application/json"}, b'{"data": [...]}')`.
Header names in the answer are lower-case, as httpx gives them.
"""

from __future__ import annotations

from typing import Literal, Protocol

import aiohttp
import httpx

from pixelgate.core.gated_reads import SMALL_READ, GatedConnector, open_reads
from pixelgate.errors import (
    UpstreamBadResponse,
    UpstreamConnectError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixelgate.providers.base import UpstreamRequest, UpstreamResponse
from pixelgate.settings import Timeouts

__all__ = [
    "AiohttpClient",
    "BodyGate",
    "ClientName",
    "HttpxClient",
    "UpstreamClient",
    "httpx_request",
]

ClientName = Literal["aiohttp", "httpx"]


class BodyGate(Protocol):
    """What a client asks before and after reading a body (core.answer_budget.Lease)."""

    async def admit_body(self, declared: int | None) -> int: ...

    def body_read(self, counted: int, size: int) -> None: ...


class UpstreamClient(Protocol):
    async def send(
        self, req: UpstreamRequest, timeouts: Timeouts, gate: BodyGate
    ) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


def httpx_request(
    client: httpx.AsyncClient, req: UpstreamRequest, timeouts: Timeouts
) -> httpx.Request:
    """An upstream call as an httpx request on `client`, with the deployment's timeouts."""
    return client.build_request(
        req.method,
        req.url,
        headers=req.headers,
        content=req.content,
        params=req.params or None,
        timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
    )


class HttpxClient:
    """Sends on the executor's shared httpx client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(
        self, req: UpstreamRequest, timeouts: Timeouts, gate: BodyGate
    ) -> UpstreamResponse:
        request = httpx_request(self.client, req, timeouts)
        try:
            resp = await self.client.send(request, stream=True)
            try:
                counted = await gate.admit_body(_length(resp.headers.get("content-length")))
                body = await resp.aread()
            finally:
                await resp.aclose()
        except httpx.TimeoutException:
            raise UpstreamTimeout("The upstream did not answer in time.") from None
        except httpx.ConnectError:
            raise UpstreamConnectError("The upstream could not be reached.") from None
        except httpx.RemoteProtocolError:
            raise UpstreamBadResponse("The upstream closed the connection mid-answer.") from None
        except httpx.TransportError:
            raise UpstreamUnavailable("The upstream could not be reached.") from None
        gate.body_read(counted, len(body))
        return UpstreamResponse(resp.status_code, dict(resp.headers), body)

    async def aclose(self) -> None:
        """The executor owns (and closes) the httpx client."""


class AiohttpClient:
    """One aiohttp session per process, created on first use (it must be made inside the
    running event loop). No cookie jar: the session is shared by every client's calls."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = GatedConnector(limit=self.max_connections, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Read buffered before a body is admitted: aiohttp stops reading the
                # connection past twice this (see core.gated_reads).
                read_bufsize=SMALL_READ,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                raise_for_status=False,
            )
        return self._session

    async def send(
        self, req: UpstreamRequest, timeouts: Timeouts, gate: BodyGate
    ) -> UpstreamResponse:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        try:
            async with self._get_session().request(
                req.method,
                req.url,
                headers=req.headers,
                data=req.content,
                params=req.params or None,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                # Until admitted, the connection's bytes wait in aiohttp's small read
                # buffer (it stops reading the socket once that is full) and the kernel's.
                counted = await gate.admit_body(resp.content_length)
                open_reads(resp)
                body = await resp.read()
                gate.body_read(counted, len(body))
                headers = {k.lower(): v for k, v in resp.headers.items()}
                return UpstreamResponse(resp.status, headers, body)
        except TimeoutError:
            raise UpstreamTimeout("The upstream did not answer in time.") from None
        except aiohttp.ClientConnectorError:
            # No connection was opened, so the upstream received nothing.
            raise UpstreamConnectError("The upstream could not be reached.") from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
            raise UpstreamBadResponse("The upstream closed the connection mid-answer.") from None
        except aiohttp.ClientResponseError:
            raise UpstreamBadResponse("The upstream sent a malformed HTTP answer.") from None
        except (aiohttp.ClientError, OSError):
            raise UpstreamUnavailable("The upstream could not be reached.") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _length(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
