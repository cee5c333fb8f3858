"""Fault switches shared by every upstream fake.

A fake keeps a `FaultSwitch`; each incoming request first asks it for a fault. Faults are
queued (`queue("status_500", "status_500")` hits the next two requests) or sticky
(`sticky = "status_503"` hits every request until cleared).

Fault names:
  status_500 / status_502 / status_503  -> that status with the provider's error body
  status_429      -> 429 with `Retry-After: <retry_after>` and the provider's error body
  status_401 / status_403 -> auth failures in the provider's error body
  timeout         -> sleeps `hang_seconds` before answering (client should time out)
  malformed_json  -> 200 with a body that is not JSON
  truncated       -> 200 whose Content-Length promises more bytes than are sent
  slow_drip       -> a valid answer sent a few bytes at a time with `drip_delay` between
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

ErrorBody = Callable[[int, str], dict[str, Any]]

FAULTS = (
    "status_500",
    "status_502",
    "status_503",
    "status_429",
    "status_401",
    "status_403",
    "timeout",
    "malformed_json",
    "truncated",
    "slow_drip",
)


@dataclass
class FaultSwitch:
    pending: list[str] = field(default_factory=list)
    sticky: str | None = None
    retry_after: int = 2
    hang_seconds: float = 30.0
    drip_delay: float = 0.05

    def queue(self, *names: str) -> None:
        for name in names:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}")
        self.pending.extend(names)

    def take(self) -> str | None:
        if self.pending:
            return self.pending.pop(0)
        return self.sticky


class _TruncatedResponse(Response):
    """Announces a Content-Length larger than the bytes it sends, then ends the body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b'{"created": 1, "data": [{"b64_json": "iVBORw0KGgo'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body) + 4096).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        raise RuntimeError("fake upstream: truncated body")


async def fault_response(
    name: str | None, switch: FaultSwitch, error_body: ErrorBody
) -> Response | None:
    """The answer a drawn fault gives instead of the normal one, or None to answer normally.

    Usage in a fake's handler::

        fault = state.faults.take()
        if (early := await fault_response(fault, state.faults, error_body)) is not None:
            return early
        response = ...  # the normal answer
        return drip(response, state.faults) if fault == "slow_drip" else response
    """
    if name is None or name == "slow_drip":
        return None
    if name.startswith("status_"):
        status = int(name.split("_", 1)[1])
        headers = {"Retry-After": str(switch.retry_after)} if status == 429 else None
        return Response(
            orjson.dumps(error_body(status, f"fake upstream fault {status}")),
            status_code=status,
            media_type="application/json",
            headers=headers,
        )
    if name == "timeout":
        await asyncio.sleep(switch.hang_seconds)
        return None
    if name == "malformed_json":
        return Response(b'{"created": 1, "data": [ this is not json', media_type="application/json")
    if name == "truncated":
        return _TruncatedResponse()
    raise ValueError(name)


def drip(response: Response, switch: FaultSwitch) -> Response:
    """Send an already-built answer a few bytes at a time."""
    body = bytes(response.body)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 64):
            yield body[i : i + 64]
            await asyncio.sleep(switch.drip_delay)

    return StreamingResponse(
        chunks(), status_code=response.status_code, media_type=response.media_type
    )
