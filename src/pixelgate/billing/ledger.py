"""The ledger: append-only entries (credit, debit, reserve, commit, release), each with a
unique idempotency key, and a per-key balance row kept in step with them in the same
transaction.

Every function takes an open connection inside a transaction and leaves committing to the
caller, so that a request settles in its own short transaction and a task (later) settles in
the same transaction as its completion. Functions that refuse (no balance, spend limit
reached) raise, and the caller's transaction must roll back — `engine.begin()` does that.

Why no overdraft is possible: a reservation debits the cached balance with one conditional
statement, `UPDATE key_balances SET available = available - :amount WHERE key_id = :key AND
available >= :amount`, and checks that one row changed. The database serialises writers on
that row (PostgreSQL row lock, SQLite's single writer), so two requests can never both spend
the same micro-unit; a CHECK constraint (available >= 0) backs it up. Spend limits per day and
per month work the same way on `key_spend` counters. Nothing is read, decided in Python and
written back.

A request's life in the ledger: `reserve R` (the worst case), then either `commit C` +
`release R - C` (C = actual cost, capped at R) or `commit 0` + `release R` (failure). The
commit entry's idempotency key `<reservation>:commit` makes settling twice impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import Insert

from pixelgate.errors import InsufficientQuota
from pixelgate.storage.tables import key_balances, key_spend, ledger_entries

__all__ = [
    "Account",
    "Balance",
    "Reservation",
    "balance",
    "credit",
    "debit",
    "load_reservation",
    "open_balance",
    "release",
    "release_stale",
    "reserve",
    "settle",
    "usd",
]

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Account:
    """What a reservation needs to know about the key paying for it."""

    key_id: str
    unlimited: bool = False
    daily_limit: int | None = None
    monthly_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """A held amount. `day`/`month` name the spend counters it was added to (if any), so the
    release takes it back from the same ones even if it settles after midnight."""

    id: str
    key_id: str
    amount: int
    metered: bool
    day: str | None = None
    month: str | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """A key's money, derived from its entries; `cached` is the balance row, which must agree."""

    credited: int
    committed: int
    outstanding: int
    available: int
    cached: int | None
    debited: int = 0  # taken back by an operator (`debit`), not spent on requests


def usd(micros: int) -> str:
    """Micro-units as a currency amount for messages, e.g. 1250 → '0.001250'."""
    return f"{micros // MICROS}.{micros % MICROS:06d}"


def _insert_ignore(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    return sqlite.insert(table).values(**values).on_conflict_do_nothing()


async def _entry(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Append one entry; False if its idempotency key was already used (nothing written)."""
    values.setdefault("created_at", datetime.now(UTC))
    result = await conn.execute(_insert_ignore(conn, ledger_entries, values))
    return bool(result.rowcount)


async def open_balance(conn: AsyncConnection, key_id: str) -> None:
    """Create the key's balance row at zero (credits then raise it)."""
    await conn.execute(_insert_ignore(conn, key_balances, {"key_id": key_id, "available": 0}))


async def _money(
    conn: AsyncConnection,
    kind: str,
    key_id: str,
    amount: int,
    idempotency_key: str,
    note: str | None,
) -> bool:
    """Write an operator's credit or debit entry (False if its idempotency key was used),
    and make sure the key has a balance row for the caller to change."""
    if amount <= 0:
        raise ValueError(f"a {kind} must be positive")
    entry = {
        "key_id": key_id,
        "kind": kind,
        "amount": amount,
        "idempotency_key": f"{kind}:{idempotency_key}",
        "metered": True,
        "note": note[:200] if note else None,
    }
    if not await _entry(conn, entry):
        return False
    await open_balance(conn, key_id)
    return True


async def credit(
    conn: AsyncConnection, key_id: str, amount: int, idempotency_key: str, note: str | None = None
) -> bool:
    """Add `amount` micro-units; False (and no change) if this idempotency key was used."""
    if not await _money(conn, "credit", key_id, amount, idempotency_key, note):
        return False
    await conn.execute(
        update(key_balances)
        .where(key_balances.c.key_id == key_id)
        .values(available=key_balances.c.available + amount)
    )
    return True


async def debit(
    conn: AsyncConnection, key_id: str, amount: int, idempotency_key: str, note: str | None = None
) -> bool:
    """Take `amount` micro-units back from the key's available balance (a correction, or
    credit refunded elsewhere); False (and no change) if this idempotency key was used.

    Like a reservation, one conditional statement: InsufficientQuota (the caller rolls
    back) when the available balance is smaller, so a debit can never overdraw a key."""
    if not await _money(conn, "debit", key_id, amount, idempotency_key, note):
        return False
    result = await conn.execute(
        update(key_balances)
        .where(key_balances.c.key_id == key_id, key_balances.c.available >= amount)
        .values(available=key_balances.c.available - amount)
    )
    if result.rowcount != 1:
        have = await _cached(conn, key_id) or 0
        raise InsufficientQuota(
            f"The key's available balance ({usd(have)}) is less than the {usd(amount)} to "
            "take back."
        )
    return True


async def _cached(conn: AsyncConnection, key_id: str) -> int | None:
    row = (
        await conn.execute(select(key_balances.c.available).where(key_balances.c.key_id == key_id))
    ).first()
    return int(row.available) if row else None


async def _count_spend(
    conn: AsyncConnection, key_id: str, period: str, amount: int, limit: int
) -> None:
    await conn.execute(
        _insert_ignore(conn, key_spend, {"key_id": key_id, "period": period, "used": 0})
    )
    result = await conn.execute(
        update(key_spend)
        .where(
            key_spend.c.key_id == key_id,
            key_spend.c.period == period,
            key_spend.c.used + amount <= limit,
        )
        .values(used=key_spend.c.used + amount)
    )
    if result.rowcount != 1:
        span = "daily" if len(period) == 10 else "monthly"
        raise InsufficientQuota(
            f"This request could cost up to {usd(amount)}, which would pass this key's "
            f"{span} spend limit of {usd(limit)} (period {period}, UTC).",
            code="spend_limit_exceeded",
        )


async def reserve(
    conn: AsyncConnection,
    account: Account,
    reservation_id: str,
    amount: int,
    now: datetime | None = None,
) -> Reservation:
    """Hold `amount` against the key, or raise InsufficientQuota (the caller rolls back).

    Replaying a reservation id returns the first reservation without holding twice."""
    now = now or datetime.now(UTC)
    day = now.strftime("%Y-%m-%d") if account.daily_limit is not None else None
    month = now.strftime("%Y-%m") if account.monthly_limit is not None else None
    held = Reservation(reservation_id, account.key_id, amount, not account.unlimited, day, month)
    entry = {
        "key_id": account.key_id,
        "kind": "reserve",
        "amount": amount,
        "idempotency_key": reservation_id + ":reserve",
        "reservation_id": reservation_id,
        "metered": held.metered,
        "day": day,
        "month": month,
        "created_at": now,
    }
    if not await _entry(conn, entry):
        existing = await load_reservation(conn, reservation_id)
        assert existing is not None
        return existing
    if held.metered:
        result = await conn.execute(
            update(key_balances)
            .where(key_balances.c.key_id == account.key_id, key_balances.c.available >= amount)
            .values(available=key_balances.c.available - amount)
        )
        if result.rowcount != 1:
            have = await _cached(conn, account.key_id) or 0
            raise InsufficientQuota(
                f"This key's balance ({usd(have)}) does not cover this request, which may cost "
                f"up to {usd(amount)}. Add credit or lower n, size or quality."
            )
    if day is not None and account.daily_limit is not None:
        await _count_spend(conn, account.key_id, day, amount, account.daily_limit)
    if month is not None and account.monthly_limit is not None:
        await _count_spend(conn, account.key_id, month, amount, account.monthly_limit)
    return held


async def settle(conn: AsyncConnection, held: Reservation, cost: int) -> int | None:
    """Commit `min(cost, held.amount)` and release the rest. Returns the amount charged, or
    None if this reservation was already settled (then nothing changes)."""
    charged = max(0, min(cost, held.amount))
    refund = held.amount - charged
    base = {"key_id": held.key_id, "reservation_id": held.id, "metered": held.metered}
    commit = {**base, "kind": "commit", "amount": charged, "idempotency_key": held.id + ":commit"}
    if not await _entry(conn, commit):
        return None
    if refund:
        release_entry = {
            **base,
            "kind": "release",
            "amount": refund,
            "idempotency_key": held.id + ":release",
        }
        await _entry(conn, release_entry)
        if held.metered:
            await conn.execute(
                update(key_balances)
                .where(key_balances.c.key_id == held.key_id)
                .values(available=key_balances.c.available + refund)
            )
        for period in (held.day, held.month):
            if period is not None:
                await conn.execute(
                    update(key_spend)
                    .where(key_spend.c.key_id == held.key_id, key_spend.c.period == period)
                    .values(used=key_spend.c.used - refund)
                )
    return charged


async def release(conn: AsyncConnection, held: Reservation) -> bool:
    """Give the whole reservation back (failure); False if it was already settled."""
    return await settle(conn, held, 0) is not None


async def release_stale(conn: AsyncConnection, before: datetime, prefix: str) -> int:
    """Release reservations made before `before`, whose id starts with `prefix`, that were
    never settled — money a crashed process left on hold. Safe to run from several
    processes at once: each release is idempotent. Returns how many were released."""
    settled = aliased(ledger_entries)
    stmt = select(ledger_entries.c.reservation_id).where(
        ledger_entries.c.kind == "reserve",
        ledger_entries.c.created_at < before,
        ledger_entries.c.reservation_id.startswith(prefix, autoescape=True),
        ~select(settled.c.id)
        .where(settled.c.idempotency_key == ledger_entries.c.reservation_id + ":commit")
        .exists(),
    )
    released = 0
    for (reservation_id,) in (await conn.execute(stmt)).all():
        held = await load_reservation(conn, reservation_id)
        if held is not None and await release(conn, held):
            released += 1
    return released


async def load_reservation(conn: AsyncConnection, reservation_id: str) -> Reservation | None:
    """The reservation recorded under this id — for settling it later, e.g. from a task."""
    row = (
        await conn.execute(
            select(ledger_entries).where(
                ledger_entries.c.idempotency_key == reservation_id + ":reserve"
            )
        )
    ).first()
    if row is None:
        return None
    return Reservation(
        reservation_id, row.key_id, int(row.amount), bool(row.metered), row.day, row.month
    )


async def balance(conn: AsyncConnection, key_id: str) -> Balance:
    """Sum the key's entries; metered entries only count towards its spendable balance."""
    rows = (
        await conn.execute(
            select(
                ledger_entries.c.kind,
                ledger_entries.c.metered,
                func.sum(ledger_entries.c.amount),
            )
            .where(ledger_entries.c.key_id == key_id)
            .group_by(ledger_entries.c.kind, ledger_entries.c.metered)
        )
    ).all()
    sums: dict[tuple[str, bool], int] = {}
    for kind, metered, amount in rows:
        sums[(kind, bool(metered))] = sums.get((kind, bool(metered)), 0) + int(amount)

    def total(kind: str, metered: bool | None = None) -> int:
        return sum(v for (k, m), v in sums.items() if k == kind and metered in (None, m))

    credited, debited = total("credit"), total("debit")
    outstanding = total("reserve") - total("commit") - total("release")
    available = credited - debited - total("reserve", True) + total("release", True)
    cached = await _cached(conn, key_id)
    return Balance(credited, total("commit"), outstanding, available, cached, debited)
