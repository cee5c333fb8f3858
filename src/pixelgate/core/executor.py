"""The executor: the only place that talks to the network. One pooled client per process
(aiohttp or httpx for plain calls, see upstream_client; httpx for streams and fetches);
transport failures become retryable gateway errors. Whole upstream bodies are read only
once the request's lease on the process's answer budget admits them (core.answer_budget)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import httpx

from pixelgate.core.answer_budget import AnswerBudget, current_lease
from pixelgate.core.safe_fetch import FetchPolicy, fetch_public
from pixelgate.core.streaming import SseEvent, parse_sse
from pixelgate.core.upstream_client import (
    AiohttpClient,
    ClientName,
    HttpxClient,
    UpstreamClient,
    httpx_request,
)
from pixelgate.errors import (
    InvalidParameter,
    PayloadTooLarge,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixelgate.providers.base import UpstreamRequest, UpstreamResponse
from pixelgate.settings import Timeouts

__all__ = ["Executor", "UpstreamStream"]

_FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# An executor built without one (tests, tools) still bounds what it reads at once.
DEFAULT_ANSWER_BUDGET = 64 * 1024 * 1024


class Executor:
    def __init__(
        self,
        policy: FetchPolicy | None = None,
        max_connections: int = 4096,
        client: ClientName = "aiohttp",
        budget: AnswerBudget | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self.budget = budget or AnswerBudget(DEFAULT_ANSWER_BUDGET)
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections // 4
            ),
            follow_redirects=False,
            trust_env=False,
        )
        self.upstream: UpstreamClient = (
            AiohttpClient(max_connections) if client == "aiohttp" else HttpxClient(self.client)
        )

    async def aclose(self) -> None:
        await self.upstream.aclose()
        await self.client.aclose()

    async def send(self, req: UpstreamRequest, timeouts: Timeouts) -> UpstreamResponse:
        """One call; its body is read once the request's lease admits it. Outside a request
        (the task worker) a lease of its own is held while the body is read."""
        lease = current_lease()
        if lease is not None and lease.budget is self.budget:
            return await self.upstream.send(req, timeouts, lease)
        own = self.budget.lease()
        try:
            return await self.upstream.send(req, timeouts, own)
        finally:
            own.release()

    async def open_stream(
        self, req: UpstreamRequest, timeouts: Timeouts
    ) -> UpstreamStream | UpstreamResponse:
        """Start a streamed call: an open event stream on 2xx, else the whole error answer."""
        request = httpx_request(self.client, req, timeouts)
        try:
            resp = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            raise UpstreamTimeout("The upstream did not answer in time.") from None
        except httpx.TransportError:
            raise UpstreamUnavailable("The upstream could not be reached.") from None
        if resp.status_code >= 400:
            try:
                body = await resp.aread()
            except httpx.HTTPError:
                body = b""
            finally:
                await resp.aclose()
            return UpstreamResponse(resp.status_code, dict(resp.headers), body)
        return UpstreamStream(resp)

    async def fetch_client_url(self, url: str, param: str) -> tuple[bytes, str | None]:
        """Download a client-supplied URL, refusing internal addresses (see safe_fetch)."""
        return await fetch_public(self.client, url, param, self.policy)

    async def fetch_image(self, url: str, param: str, max_bytes: int) -> tuple[bytes, str | None]:
        """Download an image URL an upstream returned (trusted configuration; bounded)."""
        if not url.startswith(("http://", "https://")):
            raise InvalidParameter(f"{param} must be an http(s) URL or a data URL.", param=param)
        try:
            async with self.client.stream("GET", url, timeout=_FETCH_TIMEOUT) as resp:
                if resp.status_code != 200:
                    raise InvalidParameter(
                        f"Could not fetch {param}: the server answered {resp.status_code}.",
                        param=param,
                    )
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise PayloadTooLarge(f"{param} is larger than {max_bytes} bytes.", param=param)
                chunks = bytearray()
                async for chunk in resp.aiter_bytes():
                    chunks += chunk
                    if len(chunks) > max_bytes:
                        raise PayloadTooLarge(
                            f"{param} is larger than {max_bytes} bytes.", param=param
                        )
                return bytes(chunks), resp.headers.get("content-type")
        except httpx.HTTPError:
            raise InvalidParameter(f"Could not fetch {param}.", param=param) from None


@dataclass
class UpstreamStream:
    """An open streamed upstream answer; iterate `events()` once, then it closes itself."""

    response: httpx.Response

    async def events(self) -> AsyncGenerator[SseEvent, None]:
        try:
            async for event in parse_sse(self.response.aiter_lines()):
                yield event
        except httpx.TimeoutException:
            raise UpstreamTimeout("The upstream stream stalled.") from None
        except httpx.HTTPError:
            raise UpstreamBadResponse("The upstream stream broke off.") from None
        finally:
            await self.response.aclose()

    async def aclose(self) -> None:
        await self.response.aclose()
