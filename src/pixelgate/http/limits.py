"""Refuse request bodies over the configured limit while they stream in (no buffering)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelgate.errors import PayloadTooLarge

__all__ = ["BodyLimitMiddleware", "BodyTooLarge"]


class BodyTooLarge(PayloadTooLarge):
    """Raised from `receive` once a request body passes the limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                scope.setdefault("state", {})["body_too_large"] = True
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            if scope.get("state", {}).get("body_too_large"):
                raise BodyTooLarge(f"Request body is larger than the limit of {limit} bytes.")
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"Request body is larger than the limit of {limit} bytes.")
            return message

        await self.app(scope, limited, send)
