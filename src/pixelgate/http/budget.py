"""Each HTTP request's lease on the process's answer budget (core.answer_budget).

The lease is opened before the endpoint runs and released when the ASGI app returns, or
when the request fails, is cancelled or its client disconnects. One place, so every
endpoint gets it.

"Returns" must mean "the answer has left the process": uvicorn's `send` hands a body to the
transport and returns at once, the transport keeping whatever the client has not read yet.
So when a request holds budget, its last body message is sent with `more_body` and followed
by an empty final one: uvicorn waits, before sending that one, until the transport's buffer
is below its low-water mark. A client that has not taken its answer after `STUCK_SECONDS`
no longer holds budget (its answer still goes out when it reads), so clients that stop
reading cannot hold everyone else's answers back for long.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelgate.core.answer_budget import AnswerBudget, bound_lease

__all__ = ["STUCK_SECONDS", "AnswerBudgetMiddleware"]

STUCK_SECONDS = 60.0


class AnswerBudgetMiddleware:
    def __init__(
        self, app: ASGIApp, budget: AnswerBudget, stuck_seconds: float = STUCK_SECONDS
    ) -> None:
        self.app = app
        self.budget = budget
        self.stuck_seconds = stuck_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lease = self.budget.lease()

        async def send_then_drain(message: Message) -> None:
            last = message["type"] == "http.response.body" and not message.get("more_body")
            if not (last and lease.held):
                await send(message)
                return
            await send({**message, "more_body": True})
            stuck = asyncio.get_running_loop().call_later(self.stuck_seconds, lease.release)
            try:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                stuck.cancel()

        with bound_lease(lease):
            await self.app(scope, receive, send_then_drain)
