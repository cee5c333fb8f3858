"""The ledger on SQLite and PostgreSQL: idempotent entries, derived balance, no overdraft."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.billing import ledger
from pixelgate.billing.ledger import Account
from pixelgate.errors import InsufficientQuota
from pixelgate.storage.db import create_engine
from pixelgate.storage.migrate import upgrade
from pixelgate.storage.tables import key_spend, ledger_entries


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


async def _credit(engine: AsyncEngine, key: str, amount: int, idem: str) -> bool:
    async with engine.begin() as conn:
        return await ledger.credit(conn, key, amount, idem)


async def _balance(engine: AsyncEngine, key: str) -> ledger.Balance:
    async with engine.connect() as conn:
        return await ledger.balance(conn, key)


async def test_credit_reserve_settle_release(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        assert await _credit(engine, "k1", 10_000, "topup-1")
        assert not await _credit(engine, "k1", 10_000, "topup-1")  # replay: no double credit
        acct = Account("k1")
        async with engine.begin() as conn:
            held = await ledger.reserve(conn, acct, "req_a", 4_000)
        b = await _balance(engine, "k1")
        assert (b.available, b.cached, b.outstanding) == (6_000, 6_000, 4_000)
        async with engine.begin() as conn:
            assert await ledger.settle(conn, held, 2_500) == 2_500
        async with engine.begin() as conn:
            assert await ledger.settle(conn, held, 2_500) is None  # settled once only
            assert not await ledger.release(conn, held)
        b = await _balance(engine, "k1")
        assert (b.credited, b.committed, b.outstanding, b.available) == (10_000, 2_500, 0, 7_500)
        assert b.cached == b.available
        # A failure gives everything back; a commit is capped at its reservation.
        async with engine.begin() as conn:
            failed = await ledger.reserve(conn, acct, "req_b", 3_000)
            assert await ledger.release(conn, failed)
            capped = await ledger.reserve(conn, acct, "req_c", 1_000)
            assert await ledger.settle(conn, capped, 99_999) == 1_000
        b = await _balance(engine, "k1")
        assert (b.committed, b.available, b.cached) == (3_500, 6_500, 6_500)
        async with engine.connect() as conn:
            kinds = (
                await conn.execute(
                    select(ledger_entries.c.kind, ledger_entries.c.amount)
                    .where(ledger_entries.c.reservation_id == "req_b")
                    .order_by(ledger_entries.c.id)
                )
            ).all()
        assert [tuple(r) for r in kinds] == [("reserve", 3_000), ("commit", 0), ("release", 3_000)]
    finally:
        await engine.dispose()


async def test_refusal_rolls_back_and_replay_does_not_hold_twice(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        await _credit(engine, "k2", 1_000, "c")
        with pytest.raises(InsufficientQuota) as info:
            async with engine.begin() as conn:
                await ledger.reserve(conn, Account("k2"), "req_big", 1_001)
        assert "0.001000" in info.value.message and "0.001001" in info.value.message
        async with engine.begin() as conn:
            first = await ledger.reserve(conn, Account("k2"), "req_x", 600)
            again = await ledger.reserve(conn, Account("k2"), "req_x", 600)
            assert again == first
            assert await ledger.load_reservation(conn, "req_x") == first
            assert await ledger.load_reservation(conn, "req_nope") is None
        b = await _balance(engine, "k2")
        assert (b.available, b.cached, b.outstanding) == (400, 400, 600)
        async with engine.connect() as conn:
            n = (
                await conn.execute(
                    select(func.count())
                    .select_from(ledger_entries)
                    .where(ledger_entries.c.reservation_id == "req_big")
                )
            ).scalar_one()
        assert n == 0
        # A metered key with no balance row at all is refused, never free.
        with pytest.raises(InsufficientQuota):
            async with engine.begin() as conn:
                await ledger.reserve(conn, Account("k-none"), "req_y", 1)
    finally:
        await engine.dispose()


async def test_concurrent_reserves_never_overdraw(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        await _credit(engine, "k3", 10_000, "c")

        async def one(i: int) -> bool:
            try:
                async with engine.begin() as conn:
                    held = await ledger.reserve(conn, Account("k3"), f"req_{i}", 1_000)
                async with engine.begin() as conn:
                    await ledger.settle(conn, held, 1_000)
                return True
            except InsufficientQuota:
                return False

        results = await asyncio.gather(*(one(i) for i in range(50)))
        assert sum(results) == 10
        b = await _balance(engine, "k3")
        assert (b.committed, b.available, b.cached, b.outstanding) == (10_000, 0, 0, 0)
    finally:
        await engine.dispose()


async def test_spend_limits_per_day_and_month(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        acct = Account("k4", unlimited=True, daily_limit=2_500, monthly_limit=4_000)
        day1 = datetime(2031, 1, 31, 23, 59, tzinfo=UTC)
        day2 = datetime(2031, 2, 1, 0, 1, tzinfo=UTC)
        async with engine.begin() as conn:
            a = await ledger.reserve(conn, acct, "r1", 1_000, day1)
            b = await ledger.reserve(conn, acct, "r2", 1_000, day1)
        with pytest.raises(InsufficientQuota) as info:
            async with engine.begin() as conn:
                await ledger.reserve(conn, acct, "r3", 1_000, day1)
        assert info.value.error_code == "spend_limit_exceeded"
        assert "daily" in info.value.message
        async with engine.begin() as conn:
            await ledger.settle(conn, a, 400)  # 600 goes back to 2031-01-31 and 2031-01
            await ledger.release(conn, b)
            await ledger.reserve(conn, acct, "r4", 2_000, day1)
            await ledger.reserve(conn, acct, "r5", 2_000, day2)  # a new day and month
        async with engine.connect() as conn:
            used = dict(
                (
                    await conn.execute(
                        select(key_spend.c.period, key_spend.c.used).where(
                            key_spend.c.key_id == "k4"
                        )
                    )
                ).all()
            )
        assert used == {
            "2031-01-31": 2_400,
            "2031-01": 2_400,
            "2031-02-01": 2_000,
            "2031-02": 2_000,
        }
        # Unlimited keys never touch a balance row.
        b4 = await _balance(engine, "k4")
        assert b4.cached is None and b4.committed == 400
    finally:
        await engine.dispose()


async def test_stale_request_reservations_are_released(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        await _credit(engine, "k5", 10_000, "c")
        old = datetime.now(UTC) - timedelta(days=1)
        cutoff = datetime.now(UTC) - timedelta(hours=1)
        async with engine.begin() as conn:
            lost = await ledger.reserve(conn, Account("k5"), "req_lost", 3_000, old)
            done = await ledger.reserve(conn, Account("k5"), "req_done", 1_000, old)
            await ledger.settle(conn, done, 1_000)
            await ledger.reserve(conn, Account("k5"), "task_slow", 2_000, old)
            await ledger.reserve(conn, Account("k5"), "req_fresh", 500)
        async with engine.begin() as conn:
            assert await ledger.release_stale(conn, cutoff, "req_") == 1
        async with engine.begin() as conn:
            assert await ledger.release_stale(conn, cutoff, "req_") == 0
            assert not await ledger.release(conn, lost)
        b = await _balance(engine, "k5")
        # Only the task's and the fresh request's holds remain outstanding.
        assert (b.committed, b.outstanding, b.available, b.cached) == (1_000, 2_500, 6_500, 6_500)
    finally:
        await engine.dispose()


async def test_debit_takes_credit_back_once_and_never_overdraws(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        await _credit(engine, "k6", 5_000, "c")
        async with engine.begin() as conn:
            held = await ledger.reserve(conn, Account("k6"), "req_h", 1_000)
        async with engine.begin() as conn:
            assert await ledger.debit(conn, "k6", 1_500, "fix-1", "typo in the top-up")
            assert not await ledger.debit(conn, "k6", 1_500, "fix-1")  # replay: once only
        b = await _balance(engine, "k6")
        assert (b.credited, b.debited, b.outstanding) == (5_000, 1_500, 1_000)
        assert b.available == b.cached == 2_500
        # More than is available (the held 1,000 is not available) is refused, nothing kept.
        with pytest.raises(InsufficientQuota) as info:
            async with engine.begin() as conn:
                await ledger.debit(conn, "k6", 2_501, "fix-2")
        assert "0.002500" in info.value.message
        async with engine.begin() as conn:
            await ledger.release(conn, held)
            assert await ledger.debit(conn, "k6", 2_501, "fix-2")  # the same key, now it fits
        b = await _balance(engine, "k6")
        assert (b.debited, b.available, b.cached) == (4_001, 999, 999)
        async with engine.connect() as conn:
            notes = (
                await conn.execute(
                    select(ledger_entries.c.note).where(ledger_entries.c.kind == "debit")
                )
            ).all()
        assert sorted(str(n.note) for n in notes) == ["None", "typo in the top-up"]
        with pytest.raises(ValueError):
            async with engine.begin() as conn:
                await ledger.debit(conn, "k6", 0, "zero")
    finally:
        await engine.dispose()
