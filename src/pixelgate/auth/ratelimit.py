"""Per-key request-rate and concurrency limits behind a small interface.

Two implementations, chosen in `services.shared_state`:

- `LocalLimiter` (no PIXELGATE_REDIS_URL): state in this process. Exact for one gateway
  process; with several processes each counts on its own, so a key gets its cap once per
  process.
- `scale.redis_limiter.RedisLimiter` (PIXELGATE_REDIS_URL set): state in Redis, exact across
  every process sharing it (atomic Lua scripts). Concurrency slots are leases renewed while
  the request runs, so a crashed process's slots come back one lease later; when Redis is
  unreachable a capped key is refused with 503 (fail closed) — see its docstring.

Both count a request per minute as a sliding window (the last 60 s, not a calendar minute).
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

    async def aclose(self) -> None:
        """Stop background work (at shutdown, once requests have finished)."""
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

    async def aclose(self) -> None:
        pass
