"""Per-key request-rate and concurrency limits behind a small interface.

`LocalLimiter` keeps its state in this process: exact for one gateway process, per process
when several run (a Redis implementation of the same interface is planned for that case).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["Limiter", "LocalLimiter"]

WINDOW_SECONDS = 60.0


class Limiter(Protocol):
    async def hit(self, key_id: str, per_minute: int) -> float | None:
        """Count one request; None if allowed, else the seconds until one would be."""
        ...

    async def acquire(self, key_id: str, limit: int) -> bool:
        """Take one of `limit` concurrent slots; False if all are taken."""
        ...

    async def release(self, key_id: str) -> None:
        """Give back a slot taken by `acquire`."""
        ...


class LocalLimiter:
    """Sliding-window request counts and slot counters, in memory. The event loop is single
    threaded and no method awaits, so every check-and-count is atomic."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._slots: dict[str, int] = {}

    async def hit(self, key_id: str, per_minute: int) -> float | None:
        now = self._clock()
        hits = self._hits.setdefault(key_id, deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= per_minute:
            return hits[len(hits) - per_minute] + WINDOW_SECONDS - now
        hits.append(now)
        return None

    async def acquire(self, key_id: str, limit: int) -> bool:
        taken = self._slots.get(key_id, 0)
        if taken >= limit:
            return False
        self._slots[key_id] = taken + 1
        return True

    async def release(self, key_id: str) -> None:
        taken = self._slots.get(key_id, 0) - 1
        if taken > 0:
            self._slots[key_id] = taken
        else:
            self._slots.pop(key_id, None)
