"""The console's reads of async tasks (the `tasks` table): the newest tasks of a key (or of
every key), tasks by id for the Requests page's live refresh, and what each one cost.

Scoping is as in `data.py`: a `key_id` returns only that key's tasks; None means every key
(the admin view). A task's money comes from the ledger's own records: the `reserve` entry
made when it was created (held while it runs, `reservation_id` = task id), and the usage
row its settlement writes when it finishes (`request_id` = task id, `cost` committed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.storage.tables import ledger_entries, tasks, usage_log
from pixelgate.tasks.models import FINAL_STATES, StoredImage, TaskResult, TaskState, aware

__all__ = ["MAX_IDS", "TaskMoney", "TaskRow", "recent_tasks", "task_money", "tasks_by_id"]

MAX_IDS = 100  # tasks one live refresh may ask about


@dataclass(frozen=True, slots=True)
class TaskRow:
    """What the console shows of a task (never its stored request or input images)."""

    id: str
    key_id: str
    origin: str
    family: str | None
    model: str
    state: TaskState
    progress: int | None
    created_at: datetime
    updated_at: datetime
    images: tuple[StoredImage, ...]
    error_code: str | None
    error_message: str | None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True, slots=True)
class TaskMoney:
    held: int | None = None  # reserved when it was created (None: unpriced, nothing held)
    cost: int | None = None  # committed when it finished (None: not finished yet)


_COLUMNS = (
    tasks.c.id,
    tasks.c.key_id,
    tasks.c.origin,
    tasks.c.family,
    tasks.c.model,
    tasks.c.state,
    tasks.c.progress,
    tasks.c.created_at,
    tasks.c.updated_at,
    tasks.c.result,
    tasks.c.error_code,
    tasks.c.error_message,
)


async def _rows(engine: AsyncEngine, stmt: Select[tuple[object, ...]]) -> list[TaskRow]:
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        TaskRow(
            id=r.id,
            key_id=r.key_id,
            origin=r.origin,
            family=r.family,
            model=r.model,
            state=TaskState(r.state),
            progress=r.progress,
            created_at=aware(r.created_at),
            updated_at=aware(r.updated_at),
            images=TaskResult.loads(r.result).images if r.result else (),
            error_code=r.error_code,
            error_message=r.error_message,
        )
        for r in rows
    ]


async def recent_tasks(
    engine: AsyncEngine, key_id: str | None, model: str | None = None, limit: int = 25
) -> list[TaskRow]:
    """The newest tasks, of one key or of every key, optionally of one model."""
    stmt = select(*_COLUMNS).order_by(tasks.c.created_at.desc(), tasks.c.id).limit(limit)
    if key_id is not None:
        stmt = stmt.where(tasks.c.key_id == key_id)
    if model:
        stmt = stmt.where(tasks.c.model == model)
    return await _rows(engine, stmt)


async def tasks_by_id(engine: AsyncEngine, ids: Sequence[str], key_id: str | None) -> list[TaskRow]:
    """These tasks (at most MAX_IDS), of this key only for a key's console: another key's
    task is left out, exactly like one that does not exist."""
    wanted = list(dict.fromkeys(ids))[:MAX_IDS]
    if not wanted:
        return []
    stmt = select(*_COLUMNS).where(tasks.c.id.in_(wanted)).order_by(tasks.c.created_at.desc())
    if key_id is not None:
        stmt = stmt.where(tasks.c.key_id == key_id)
    return await _rows(engine, stmt)


async def task_money(engine: AsyncEngine, rows: Sequence[TaskRow]) -> dict[str, TaskMoney]:
    """Held and committed amounts of these tasks, in micro-units."""
    if not rows:
        return {}
    ids = [r.id for r in rows]
    finished = [r for r in rows if r.final]
    held_stmt = select(ledger_entries.c.reservation_id, ledger_entries.c.amount).where(
        ledger_entries.c.reservation_id.in_(ids), ledger_entries.c.kind == "reserve"
    )
    cost: dict[str, int] = {}
    async with engine.connect() as conn:
        held = {r.reservation_id: int(r.amount) for r in (await conn.execute(held_stmt)).all()}
        if finished:
            # The settlement's usage row: found through the (key, time) index, then by id.
            cost_stmt = select(usage_log.c.request_id, usage_log.c.cost).where(
                usage_log.c.key_id.in_({r.key_id for r in finished}),
                usage_log.c.created_at >= min(r.created_at for r in finished),
                usage_log.c.request_id.in_([r.id for r in finished]),
            )
            for r in (await conn.execute(cost_stmt)).all():
                cost[r.request_id] = int(r.cost or 0)
    return {i: TaskMoney(held.get(i), cost.get(i)) for i in ids}
