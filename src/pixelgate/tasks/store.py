"""The task store: rows, compare-and-swap transitions and leased claims.

Every state change is `UPDATE … WHERE id = :id AND state = :expected` (plus `AND
lease_owner = :me` for a worker), so two processes can never both move a task, and a
completion — with its billing settle in the same transaction — happens at most once.

Claiming due tasks takes a lease. On PostgreSQL the candidate rows are locked with
`FOR UPDATE SKIP LOCKED`, so concurrent workers skip each other's rows instead of waiting.
On SQLite the claim is one `UPDATE … RETURNING` statement: SQLite takes the database write
lock when that statement starts, so the due-check and the lease write are atomic and no two
workers can claim the same row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pixelgate.storage.tables import tasks
from pixelgate.tasks.models import (
    ACTIVE_STATES,
    FINAL_STATES,
    CallbackState,
    Task,
    TaskState,
)

__all__ = ["TaskStore", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class TaskStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def insert(self, conn: AsyncConnection, values: dict[str, Any]) -> Task:
        now = utcnow()
        row = {
            "state": TaskState.QUEUED.value,
            "attempts": 0,
            "polls": 0,
            "fetch_failures": 0,
            "callback_attempts": 0,
            "next_poll_at": now,
            "created_at": now,
            "updated_at": now,
            **values,
        }
        await conn.execute(insert(tasks).values(**row))
        found = (await conn.execute(select(tasks).where(tasks.c.id == row["id"]))).one()
        return Task.from_row(found)

    async def get(self, task_id: str) -> Task | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).first()
        return Task.from_row(row) if row is not None else None

    async def get_in(self, conn: AsyncConnection, task_id: str) -> Task:
        row = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).one()
        return Task.from_row(row)

    async def transition(
        self,
        conn: AsyncConnection,
        task: Task,
        owner: str | None,
        values: dict[str, Any],
    ) -> bool:
        """Compare-and-swap: apply `values` only if the task is still in `task.state` (and
        still leased by `owner`, when given). True when this call made the change."""
        cond = [tasks.c.id == task.id, tasks.c.state == task.state.value]
        if owner is not None:
            cond.append(tasks.c.lease_owner == owner)
        stmt = update(tasks).where(and_(*cond)).values(updated_at=utcnow(), **values)
        result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def cas(self, task: Task, owner: str | None, values: dict[str, Any]) -> bool:
        async with self.engine.begin() as conn:
            return await self.transition(conn, task, owner, values)

    def _due(self, now: datetime) -> Any:
        active = [s.value for s in ACTIVE_STATES]
        return and_(
            tasks.c.next_poll_at <= now,
            or_(tasks.c.lease_until.is_(None), tasks.c.lease_until < now),
            or_(
                tasks.c.state.in_(active),
                tasks.c.callback_state == CallbackState.PENDING.value,
            ),
        )

    async def claim(self, owner: str, limit: int, lease_seconds: float) -> list[Task]:
        """Lease up to `limit` due tasks (work to do, or a webhook to deliver) to `owner`."""
        now = utcnow()
        until = now + timedelta(seconds=lease_seconds)
        candidates = (
            select(tasks.c.id).where(self._due(now)).order_by(tasks.c.next_poll_at).limit(limit)
        )
        async with self.engine.connect() as conn:
            # A read first, so an idle worker never takes SQLite's write lock.
            if (
                await conn.execute(select(tasks.c.id).where(self._due(now)).limit(1))
            ).first() is None:
                return []
        if self._postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        stmt = (
            update(tasks)
            .where(tasks.c.id.in_(candidates.scalar_subquery()), self._due(now))
            .values(lease_owner=owner, lease_until=until)
            .returning(*tasks.c)
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Task.from_row(r) for r in rows]

    async def renew(self, owner: str, ids: Sequence[str], lease_seconds: float) -> None:
        """Extend the leases `owner` still holds (the worker's heartbeat)."""
        if not ids:
            return
        until = utcnow() + timedelta(seconds=lease_seconds)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(tasks)
                .where(tasks.c.id.in_(list(ids)), tasks.c.lease_owner == owner)
                .values(lease_until=until)
            )

    async def release(self, task_id: str, owner: str, due: datetime) -> None:
        """Drop `owner`'s lease whatever the state (after an unexpected error in a step)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, next_poll_at=due)
            )

    async def release_all(self, owner: str) -> None:
        """Give up every lease of `owner` (graceful shutdown: others may resume at once)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(tasks)
                .where(tasks.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def final_among(self, ids: Sequence[str]) -> list[str]:
        """Which of `ids` have finished (for requests waiting on another process's worker)."""
        if not ids:
            return []
        finals = [s.value for s in FINAL_STATES]
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(tasks.c.id).where(tasks.c.id.in_(list(ids)), tasks.c.state.in_(finals))
            )
            return [r.id for r in rows]
