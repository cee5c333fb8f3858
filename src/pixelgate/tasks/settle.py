"""The one place where a task meets billing.

Each hook runs inside the transaction that moves the task (`created` with the insert,
`completed` / `failed` with the compare-and-swap to the final state), so the task's state
and its money can never disagree: a crash rolls back both, and because only one
compare-and-swap can win, a task is settled exactly once. Reservations are keyed by the
task id: reserve at creation (the worst case), commit the cost of what was delivered on
completion, release everything on failure or time-out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from pixelgate.billing import ledger
from pixelgate.billing.meter import Meter
from pixelgate.billing.tasks import TaskQuote, reserve, task_charge
from pixelgate.core.models import Size
from pixelgate.storage.tables import usage_log
from pixelgate.tasks.codec import RequestCodec
from pixelgate.tasks.errors import error_from_row
from pixelgate.tasks.models import Task, TaskResult

__all__ = ["GROUP_META", "Settlement"]

DIALECT = "task"
GROUP_META = "billing_group"


class Settlement:
    def __init__(self, meter: Meter, codec: RequestCodec) -> None:
        self.meter = meter
        self.codec = codec

    async def created(self, conn: AsyncConnection, task: Task, held: TaskQuote | None) -> None:
        """The task row was just inserted: hold its worst case (402 rolls the insert back)."""
        if held is not None:
            await reserve(conn, task.id, held)

    async def completed(self, conn: AsyncConnection, task: Task, result: TaskResult) -> None:
        held = await ledger.load_reservation(conn, task.id)
        extra: dict[str, Any] = {}
        if held is not None:
            req = await self.codec.load(task.request, inputs=False)
            upstream = (task.deployment or "").partition("/")[2] or req.model
            sizes = tuple(Size(i.width, i.height) for i in result.images if i.width)
            group = task.upstream_meta.get(GROUP_META, "default")
            charge = task_charge(self.meter, req, upstream, group, sizes)
            charged = await ledger.settle(conn, held, charge.amount if charge else 0)
            extra = {"cost": charged or 0, "reserved": held.amount}
            if charge is not None:
                extra |= {"price_mode": charge.mode[:32], "price_tier": charge.tier}
        size = sum(i.size_bytes for i in result.images)
        await _record(conn, task, 200, len(result.images), size, None, extra)

    async def failed(self, conn: AsyncConnection, task: Task) -> None:
        held = await ledger.load_reservation(conn, task.id)
        extra: dict[str, Any] = {}
        if held is not None:
            await ledger.release(conn, held)
            extra = {"reserved": held.amount}
        status = error_from_row(task.error_type, task.error_code, task.error_message).status
        await _record(conn, task, status, 0, 0, task.error_code, extra)


async def _record(
    conn: AsyncConnection,
    task: Task,
    status: int,
    images: int,
    size: int,
    error: str | None,
    extra: dict[str, Any],
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
            **{k: v for k, v in extra.items() if v is not None},
        )
    )
