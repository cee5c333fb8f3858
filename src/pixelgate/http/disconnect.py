"""Cancel a sync request's upstream work when its client goes away.

Starlette does not cancel a handler when the client disconnects; for image generation that
would keep an upstream call (and its reservation) running for minutes for nobody. Once the
request body has been read, the next ASGI message can only be `http.disconnect`, so a
watcher awaiting it can cancel the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from pixelgate.errors import GatewayError

__all__ = ["ClientDisconnected", "cancel_on_disconnect"]

T = TypeVar("T")


class ClientDisconnected(GatewayError):
    status = 499
    code = "client_closed_request"
    type = "invalid_request_error"


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    task = asyncio.ensure_future(work)
    gone = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                gone.set()
                task.cancel()
                return

    watcher = asyncio.create_task(watch())
    try:
        return await task
    except asyncio.CancelledError:
        if gone.is_set():
            raise ClientDisconnected("The client closed the connection.") from None
        raise
    finally:
        watcher.cancel()
