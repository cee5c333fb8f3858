"""A streamed answer's bookkeeping (concurrency slot, usage row) runs once the stream is
over — not when the handler returns, and also when the client left before the first byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse

from pixelgate.http.runner import _Tracked


async def _receive() -> dict[str, Any]:
    await asyncio.sleep(3600)
    return {"type": "http.disconnect"}


def _tracked(events: AsyncIterator[bytes], done: list[str]) -> _Tracked:
    async def finish() -> None:
        done.append("finished")

    inner = StreamingResponse(events, media_type="text/event-stream", headers={"X-A": "1"})
    return _Tracked(inner, finish)


async def test_finishes_after_the_last_event_not_before() -> None:
    gate = asyncio.Event()
    done: list[str] = []
    sent: list[dict[str, Any]] = []
    first_event = asyncio.Event()

    async def events() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"
        await gate.wait()
        yield b"data: two\n\n"

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 2:  # the response start, then the first event
            first_event.set()

    response = _tracked(events(), done)
    assert response.status_code == 200 and response.headers["x-a"] == "1"
    call = asyncio.create_task(
        response({"type": "http", "asgi": {"spec_version": "2.4"}}, _receive, send)
    )
    await first_event.wait()
    assert done == []  # the stream is still open: the slot is still held
    gate.set()
    await call
    assert done == ["finished"]
    assert [m.get("body") for m in sent if m["type"] == "http.response.body"][:2] == [
        b"data: one\n\n",
        b"data: two\n\n",
    ]


async def test_finishes_when_the_client_left_before_the_first_byte() -> None:
    done: list[str] = []
    started: list[bool] = []

    async def events() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"data: never\n\n"

    async def send(message: dict[str, Any]) -> None:
        raise OSError("client gone")

    response = _tracked(events(), done)
    with pytest.raises(ClientDisconnect):
        await response({"type": "http", "asgi": {"spec_version": "2.4"}}, _receive, send)
    assert started == [] and done == ["finished"]
