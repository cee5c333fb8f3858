"""Per-key request rates and concurrency slots in Redis, exact across any number of gateway
processes (the `auth.ratelimit.Limiter` interface).

Requests per minute: a sliding window, as `LocalLimiter` counts it. Each key has a sorted
set of its recent requests (score = the time in milliseconds); one Lua script drops the
entries older than the window, counts the rest and either adds this request or answers how
long until the oldest counted one leaves. Scripts run atomically in Redis, so two processes
can never both take the last request of a minute. Time is Redis's own clock (`TIME`), so
the gateway hosts' clocks do not have to agree.

Concurrency: each key has a sorted set of the slots in use, one member per running request
(a random token), scored with the time its lease ends. Taking a slot first drops lapsed
leases, then counts. A process renews the leases of the slots it holds every third of the
lease (PIXELGATE_REDIS_SLOT_LEASE_SECONDS, 30 s by default), so a request may run for as
long as it needs; a process that dies holding slots stops renewing, and its slots are free
again at most one lease later instead of being lost for good. (The cost: a process frozen
for longer than a lease — a stopped container — may find its slot taken by then, and the
key briefly has one request more in flight than its cap.)

Redis down: `hit` and `acquire` raise `ServiceUnavailable` (the request is answered 503 in
its own dialect's error shape, with Retry-After) — failing closed, since a key's caps are
the operator's promise about load and spend, and a per-process fallback would multiply
them by the number of processes. Keys with no rate or concurrency cap never reach Redis
and are served as usual. `release` never fails: a slot it cannot return lapses with its
lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets

from redis.asyncio import Redis

from pixelgate.errors import ServiceUnavailable
from pixelgate.scale.redis_client import REDIS_ERRORS

__all__ = ["RedisLimiter"]

log = logging.getLogger("pixelgate.ratelimit")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Times are whole milliseconds: Lua hands numbers to Redis with 14 significant digits.
# KEYS[1]: the key's recent requests. ARGV: limit, window (ms), a member unique to this hit.
# Returns -1 if counted, else the milliseconds until the oldest counted request leaves.
_HIT = (
    _NOW
    + """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return -1
"""
)

# KEYS[1]: the key's slots in use. ARGV: limit, lease (ms), this slot's token. 1 if taken.
_ACQUIRE = (
    _NOW
    + """
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
"""
)

# KEYS[1]: the key's slots in use. ARGV: lease (ms), then the tokens this process holds.
# XX: a slot already released (or lapsed) is not brought back.
_RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 0
"""
)


class RedisLimiter:
    def __init__(
        self,
        client: Redis,
        prefix: str,
        lease_seconds: float = 30.0,
        window_seconds: float = 60.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.lease_ms = round(lease_seconds * 1000)
        self.window_ms = round(window_seconds * 1000)
        self._hit = client.register_script(_HIT)
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._origin = secrets.token_hex(6)
        self._counter = itertools.count()
        # key id -> tokens of the slots this process holds for it
        self._held: dict[str, list[str]] = {}
        self._renewer: asyncio.Task[None] | None = None

    def _token(self) -> str:
        return f"{self._origin}:{next(self._counter)}"

    async def hit(self, key_id: str, per_minute: int) -> float | None:
        name = f"{self.prefix}rpm:{key_id}"
        try:
            args: list[int | str] = [per_minute, self.window_ms, self._token()]
            wait = int(await self._hit(keys=[name], args=args))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from None
        return None if wait < 0 else wait / 1000

    async def acquire(self, key_id: str, limit: int) -> bool:
        token = self._token()
        name = f"{self.prefix}slots:{key_id}"
        try:
            taken = int(await self._acquire(keys=[name], args=[limit, self.lease_ms, token]))
        except REDIS_ERRORS as exc:
            raise _unavailable(exc) from None
        if taken:
            self._held.setdefault(key_id, []).append(token)
            if self._renewer is None or self._renewer.done():
                self._renewer = asyncio.create_task(self._renew_loop())
        return bool(taken)

    async def release(self, key_id: str) -> None:
        tokens = self._held.get(key_id)
        if not tokens:
            return
        token = tokens.pop()  # slots of one key are interchangeable
        if not tokens:
            del self._held[key_id]
        try:
            await self.client.zrem(f"{self.prefix}slots:{key_id}", token)
        except REDIS_ERRORS as exc:
            log.warning("could not return a concurrency slot (it lapses with its lease): %s", exc)

    async def _renew_loop(self) -> None:
        failing = False
        while self._held:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                for key_id, tokens in list(self._held.items()):
                    if tokens:
                        name = f"{self.prefix}slots:{key_id}"
                        await self._renew(keys=[name], args=[self.lease_ms, *tokens])
                failing = False
            except REDIS_ERRORS as exc:
                if not failing:
                    log.warning("renewing concurrency slots in Redis failed: %s", exc)
                failing = True

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer


def _unavailable(exc: BaseException) -> ServiceUnavailable:
    log.warning("Redis did not answer a rate-limit check: %s", exc)
    return ServiceUnavailable(
        "The gateway cannot check this key's rate limits right now; try again shortly.",
        retry_after=1,
    )
