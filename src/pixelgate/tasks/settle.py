"""The one place where a task meets billing.

Each hook runs inside the transaction that moves the task (`on_created` with the insert,
`on_completed` / `on_failed` with the compare-and-swap to the final state), so the task's
state and its money can never disagree: a crash rolls back both, and because only one
compare-and-swap can win, a task is settled exactly once.

Today the hooks record usage only: one usage-log row per finished task, whose `request_id`
is the task id. The ledger (reserve at creation, commit the actual amount on completion,
release on failure or time-out) plugs in here — its functions take this open connection.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from pixelgate.storage.tables import usage_log
from pixelgate.tasks.errors import error_from_row
from pixelgate.tasks.models import Task, TaskResult

__all__ = ["on_completed", "on_created", "on_failed"]

DIALECT = "task"


async def on_created(conn: AsyncConnection, task: Task) -> None:
    """The task row was just inserted. The ledger's `reserve` (the estimate) goes here."""


async def _record(
    conn: AsyncConnection, task: Task, status: int, images: int, size: int, error: str | None
) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        insert(usage_log).values(
            request_id=task.id,
            created_at=now,
            key_id=task.key_id,
            dialect=DIALECT,
            endpoint=f"task:{task.origin.value}",
            model=task.model[:200],
            deployment=task.deployment,
            operation=None,
            status=status,
            latency_ms=int((now - task.created_at).total_seconds() * 1000),
            images=images,
            bytes=size,
            error_code=error[:80] if error else None,
            prompt_preview=None,
        )
    )


async def on_completed(conn: AsyncConnection, task: Task, result: TaskResult) -> None:
    """The task just completed. The ledger's `commit` (actual usage) goes here."""
    size = sum(i.size_bytes for i in result.images)
    await _record(conn, task, 200, len(result.images), size, None)


async def on_failed(conn: AsyncConnection, task: Task) -> None:
    """The task just failed or timed out (`task.error_code` says why). The ledger's
    `release` of the reservation goes here."""
    status = error_from_row(task.error_type, task.error_code, task.error_message).status
    await _record(conn, task, status, 0, 0, task.error_code)
