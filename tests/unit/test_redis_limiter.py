"""`RedisLimiter` against the test machine's Redis: the sliding window and its Retry-After,
concurrency slots shared by several "processes" (limiters with their own connection pools),
leases that outlive a dead process by one lease and no more, prefixes, and failing closed
when Redis cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from pixelgate.auth.access import AccessGuard
from pixelgate.auth.api_keys import Principal
from pixelgate.auth.limits import KeyLimits
from pixelgate.errors import ServiceUnavailable
from pixelgate.scale.redis_client import redis_client
from pixelgate.scale.redis_limiter import RedisLimiter
from tests.fakes.server import free_port
from tests.support.redis import client, drop_prefix, keys_under, unique_prefix

MakeLimiter = Callable[..., RedisLimiter]


@pytest.fixture
async def limiters(prefix: str) -> AsyncIterator[MakeLimiter]:
    """Limiters for one prefix, each with its own client, as separate processes have."""
    made: list[RedisLimiter] = []

    def make(**options: float) -> RedisLimiter:
        limiter = RedisLimiter(client(), prefix, **options)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()
        await limiter.client.aclose()


async def test_requests_per_minute_are_exact_across_processes(limiters: MakeLimiter) -> None:
    a, b = limiters(), limiters()
    results = await asyncio.gather(*(x.hit("key_1", 10) for x in (a, b) * 20))
    allowed = [r for r in results if r is None]
    refused = [r for r in results if r is not None]
    assert len(allowed) == 10 and len(refused) == 30
    # The full minute's window: the first hits leave it just under 60 s from now.
    assert all(55 < wait <= 60 for wait in refused), refused
    assert await a.hit("key_2", 1) is None  # counted per key


async def test_retry_after_is_when_the_oldest_counted_request_leaves(
    limiters: MakeLimiter,
) -> None:
    limiter = limiters(window_seconds=1.0)
    assert await limiter.hit("k", 2) is None
    await asyncio.sleep(0.5)
    assert await limiter.hit("k", 2) is None
    wait = await limiter.hit("k", 2)
    # The first hit leaves ~0.5 s from now; counting from the newest would say ~1 s.
    assert wait is not None and 0 < wait < 0.6, wait
    await asyncio.sleep(wait + 0.05)
    assert await limiter.hit("k", 2) is None
    # A sliding window: the second hit (about 0.5 s old) still counts.
    assert await limiter.hit("k", 2) is not None


async def test_refused_requests_do_not_count(limiters: MakeLimiter) -> None:
    limiter = limiters(window_seconds=0.5)
    assert await limiter.hit("k", 1) is None
    for _ in range(5):
        assert await limiter.hit("k", 1) is not None
    await asyncio.sleep(0.6)
    assert await limiter.hit("k", 1) is None


async def test_concurrency_slots_are_shared_and_returned(limiters: MakeLimiter) -> None:
    a, b = limiters(), limiters()
    assert await a.acquire("k", 2)
    assert await b.acquire("k", 2)
    assert not await a.acquire("k", 2)
    assert not await b.acquire("k", 2)
    assert await a.acquire("other", 1)  # per key
    await b.release("k")
    assert await a.acquire("k", 2)
    assert not await b.acquire("k", 2)
    # A process returns only slots it holds: b holds none of "k" now.
    await b.release("k")
    assert not await b.acquire("k", 2)
    await a.release("k")
    await a.release("k")
    assert await b.acquire("k", 2) and await b.acquire("k", 2)


async def test_a_held_slot_is_renewed_and_a_dead_process_slot_lapses(
    limiters: MakeLimiter,
) -> None:
    alive, other = limiters(lease_seconds=0.6), limiters(lease_seconds=0.6)
    assert await alive.acquire("k", 1)
    await asyncio.sleep(1.5)  # well past the lease: renewals keep the slot
    assert not await other.acquire("k", 1)
    await alive.aclose()  # the process "dies": nothing renews or returns its slot
    await asyncio.sleep(1.0)
    assert await other.acquire("k", 1)


async def test_prefixes_keep_deployments_apart(limiters: MakeLimiter, prefix: str) -> None:
    mine = limiters()
    theirs_prefix = unique_prefix()
    theirs = RedisLimiter(client(), theirs_prefix)
    try:
        assert await mine.hit("k", 1) is None
        assert await theirs.hit("k", 1) is None
        assert await mine.acquire("k", 1) and await theirs.acquire("k", 1)
        assert await mine.hit("k", 1) is not None
        names = sorted(k.decode() for k in await keys_under(prefix))
        assert names == [f"{prefix}rpm:k", f"{prefix}slots:k"]
    finally:
        await theirs.aclose()
        await theirs.client.aclose()
        await drop_prefix(theirs_prefix)
    assert await keys_under(theirs_prefix) == []


async def test_unreachable_redis_fails_closed_for_capped_keys_only() -> None:
    down = redis_client(SecretStr(f"redis://127.0.0.1:{free_port()}/0"))
    limiter = RedisLimiter(down, unique_prefix())
    try:
        with pytest.raises(ServiceUnavailable) as info:
            await limiter.hit("k", 5)
        assert info.value.status == 503 and info.value.retry_after == 1
        with pytest.raises(ServiceUnavailable):
            await limiter.acquire("k", 5)
        await limiter.release("k")  # never raises
        guard = AccessGuard(limiter)
        async with guard.admit(Principal("k", "free"), None):
            pass  # no caps: Redis is never asked
        for capped in (KeyLimits(rpm_limit=5), KeyLimits(concurrency_limit=1)):
            with pytest.raises(ServiceUnavailable):
                async with guard.admit(Principal("k", "capped", capped), None):
                    pass
    finally:
        await limiter.aclose()
        await down.aclose()
