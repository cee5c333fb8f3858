"""aiohttp connections that read an answer in small pieces until its body is admitted.

The answer budget (core.answer_budget) makes a request wait before it reads a large
upstream body. aiohttp stops reading a connection once its read buffer is full, but the
read that carries the answer's headers is as large as whatever the kernel already holds:
~120 KB on a fresh loopback connection, and ~375 KB per connection was buffered with
aiohttp's default read buffer (measured; 2,000 waiting answers held ~950 MB that way). So
each connection reads at most `SMALL_READ` bytes at a time until the client opens it for
an admitted body (`open_reads`), then full-size reads as the event loop's own; the rest
of a waiting answer stays in the kernel's socket buffers and the upstream's send buffer.
Over TLS the TLS layer's own read buffer is likewise held to `TLS_SMALL_BUFFER` until then.

How: the transport of each new connection is given a `BufferedProtocol` (it says how much
to read next) that hands what it read to aiohttp's own protocol. All connections of a
connector share one read buffer: each read is copied out (`buffer_updated`) before the
event loop performs the next one, as the event loop's own read buffer is.

This swaps the protocol factory of aiohttp's TCPConnector (its `_factory`). Should a future
aiohttp drop that attribute, answers are still read correctly, only with larger reads
before admission; tests/unit/test_answer_budget.py checks that the swap is in place.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, cast

import aiohttp
from aiohttp.client_proto import ResponseHandler

__all__ = [
    "FULL_READ",
    "SMALL_READ",
    "TLS_SMALL_BUFFER",
    "GatedConnector",
    "GatedResponseHandler",
    "open_reads",
]

# Reads before a body is admitted (headers, and the start of the body).
SMALL_READ = 4096
# Reads once it is (the event loop's own read size).
FULL_READ = 256 * 1024
# Over TLS the TLS layer buffers what it receives before handing it on, up to 256 KiB a
# connection by default: before admission it is held to this.
TLS_SMALL_BUFFER = 16 * 1024


class _SharedBuffer:
    def __init__(self) -> None:
        self.full = memoryview(bytearray(FULL_READ))
        self.small = self.full[:SMALL_READ]


class GatedResponseHandler(ResponseHandler):
    """aiohttp's response protocol; its transport reads through `_Reads`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, buffer: _SharedBuffer) -> None:
        super().__init__(loop)
        self.shared = buffer
        self.reads_open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        transport.set_protocol(_Reads(self))
        self._tls_buffer(small=True)

    def set_response_params(self, **params: Any) -> None:
        """Called by aiohttp before each request on the connection: small reads again."""
        self.reads_open = False
        self._tls_buffer(small=True)
        super().set_response_params(**params)

    def open_reads(self) -> None:
        self.reads_open = True
        self._tls_buffer(small=False)

    def resume_reading(self, resume_parser: bool = True) -> None:
        """aiohttp restarts its sock_read timer whenever reading resumes, even when the
        answer is already complete: that stale timer then fires on the idle pooled
        connection and fails the next request on it at once ("Timeout on reading data from
        socket"). With a small read buffer an answer is often complete while reading is
        paused, so the timer is stopped again here once the answer is whole."""
        super().resume_reading(resume_parser)
        payload = self._payload
        if payload is not None and payload.is_eof():
            self._drop_timeout()

    def _tls_buffer(self, small: bool) -> None:
        """A TLS transport's own read buffer: small before admission, its default after.
        (A plain TCP transport has none.)"""
        limits = getattr(self.transport, "set_read_buffer_limits", None)
        if limits is None:
            return
        if small:
            limits(high=TLS_SMALL_BUFFER)
        else:
            limits()


class _Reads(asyncio.BufferedProtocol):
    """What the transport calls: reads sized by the handler's state, events passed on."""

    __slots__ = ("handler",)

    def __init__(self, handler: GatedResponseHandler) -> None:
        self.handler = handler

    def get_buffer(self, sizehint: int) -> memoryview:
        shared = self.handler.shared
        return shared.full if self.handler.reads_open else shared.small

    def buffer_updated(self, nbytes: int) -> None:
        self.handler.data_received(bytes(self.handler.shared.full[:nbytes]))

    def eof_received(self) -> None:
        self.handler.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self.handler.pause_writing()

    def resume_writing(self) -> None:
        self.handler.resume_writing()


class GatedConnector(aiohttp.TCPConnector):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if hasattr(self, "_factory"):
            factory = functools.partial(
                GatedResponseHandler, loop=self._loop, buffer=_SharedBuffer()
            )
            self._factory = cast("functools.partial[ResponseHandler]", factory)


def open_reads(resp: aiohttp.ClientResponse) -> None:
    """Full-size reads for the rest of `resp` (its body has been admitted); the next
    request on the connection starts small again."""
    connection = resp.connection
    protocol = connection.protocol if connection is not None else None
    if isinstance(protocol, GatedResponseHandler):
        protocol.open_reads()
