"""Helpers for streamed answers: take the first part before answering, so a failure that
happens before anything was produced is still a proper error response with its status."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

from pixelgate.errors import UpstreamBadResponse

__all__ = ["first_part", "then"]

T = TypeVar("T")


async def first_part(parts: AsyncGenerator[T, None]) -> T:
    try:
        return await anext(parts)
    except StopAsyncIteration:
        raise UpstreamBadResponse("The upstream's stream ended without an answer.") from None


async def then(first: T, rest: AsyncGenerator[T, None]) -> AsyncIterator[T]:
    """`first`, then every part of `rest`; closes `rest` however the iteration ends."""
    try:
        yield first
        async for part in rest:
            yield part
    finally:
        await rest.aclose()
