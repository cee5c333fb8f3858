"""Each HTTP request's lease on the process's answer budget (core.answer_budget).

The lease is opened before the endpoint runs and released when the ASGI app returns, which
is after the last `http.response.body` message has been sent (uvicorn's send returns once
the transport has taken the bytes, waiting while the client reads slowly) — or when the
request fails, is cancelled or its client disconnects. One place, so every endpoint gets it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from pixelgate.core.answer_budget import AnswerBudget, bound_lease

__all__ = ["AnswerBudgetMiddleware"]


class AnswerBudgetMiddleware:
    def __init__(self, app: ASGIApp, budget: AnswerBudget) -> None:
        self.app = app
        self.budget = budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with bound_lease(self.budget.lease()):
            await self.app(scope, receive, send)
