"""The access guard and the in-process limiter, with a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pixelgate.auth.access import AccessGuard
from pixelgate.auth.api_keys import Principal
from pixelgate.auth.limits import KeyLimits, ip_allowed, model_allowed, parse_limits
from pixelgate.auth.ratelimit import LocalLimiter
from pixelgate.errors import AuthenticationError, InvalidParameter, PermissionDenied, RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_sliding_window_counts_the_last_minute() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    assert await limiter.hit("k", 2) is None
    clock.now += 10
    assert await limiter.hit("k", 2) is None
    clock.now += 10
    assert await limiter.hit("k", 2) == pytest.approx(40.0)  # the first hit leaves at t+60
    assert await limiter.hit("other", 2) is None
    clock.now += 40.5
    assert await limiter.hit("k", 2) is None


async def test_concurrency_slots_are_returned() -> None:
    limiter = LocalLimiter()
    assert await limiter.acquire("k", 2) and await limiter.acquire("k", 2)
    assert not await limiter.acquire("k", 2)
    await limiter.release("k")
    assert await limiter.acquire("k", 2)


async def test_guard_order_and_slot_release() -> None:
    now = datetime(2031, 1, 1, tzinfo=UTC)
    guard = AccessGuard(LocalLimiter(), clock=lambda: now)
    expired = Principal("k", "n", KeyLimits(expires_at=now, enabled=False))
    with pytest.raises(AuthenticationError):
        guard.check(expired, "127.0.0.1")
    with pytest.raises(PermissionDenied):
        guard.check(Principal("k", "n", KeyLimits(enabled=False)), None)
    one = Principal("k", "n", KeyLimits(concurrency_limit=1))
    with pytest.raises(RuntimeError):
        async with guard.admit(one, None):
            with pytest.raises(RateLimited) as info:
                async with guard.admit(one, None):
                    pass
            assert info.value.retry_after == 1
            raise RuntimeError("the slot must come back even on errors")
    async with guard.admit(one, None):
        pass
    later = Principal("k", "n", KeyLimits(expires_at=now + timedelta(seconds=1)))
    guard.check(later, None)


def test_allow_lists() -> None:
    limits = KeyLimits(allowed_ips=("10.0.0.0/8", "::1"), allowed_models=("a",))
    assert ip_allowed(limits, "10.9.8.7") and ip_allowed(limits, "::1")
    assert not ip_allowed(limits, "11.0.0.1") and not ip_allowed(limits, "garbage")
    assert not ip_allowed(limits, None) and ip_allowed(KeyLimits(), None)
    assert model_allowed(limits, "x", "a") and not model_allowed(limits, "b")


def test_parse_limits_patches_and_validates() -> None:
    base = KeyLimits(unlimited=False, rpm_limit=5)
    out = parse_limits(
        {"rpm_limit": None, "daily_limit_micros": 7, "expires_at": "2031-01-01"}, base
    )
    assert out.rpm_limit is None and out.daily_limit == 7 and not out.unlimited
    assert out.expires_at == datetime(2031, 1, 1, tzinfo=UTC)
    zoned = parse_limits({"expires_at": "2031-01-01T02:00:00+02:00"}, base).expires_at
    assert zoned is not None and zoned.utcoffset() == timedelta(0) and zoned.hour == 0
    too_big = ({"rpm_limit": 2**31}, {"daily_limit_micros": 2**63})  # would not fit a column
    for bad in (
        {"rpm_limit": 0},
        {"enabled": "yes"},
        {"allowed_models": "a"},
        {"group": ""},
        *too_big,
    ):
        with pytest.raises(InvalidParameter):
            parse_limits(bad, base)


def test_parse_limits_refuses_a_group_that_is_not_configured() -> None:
    groups = {"default", "partners"}
    assert parse_limits({"group": "partners"}, KeyLimits(), groups).group == "partners"
    with pytest.raises(InvalidParameter, match="configured groups: default, partners"):
        parse_limits({"group": "nope"}, KeyLimits(), groups)
    # A key left in a group the config no longer has cannot be saved until it is moved.
    with pytest.raises(InvalidParameter):
        parse_limits({"rpm_limit": 3}, KeyLimits(group="gone"), groups)
    assert parse_limits({"rpm_limit": 3}, KeyLimits(group="gone")).rpm_limit == 3
