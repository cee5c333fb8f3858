"""Give back money a crashed gateway left on hold.

A synchronous request settles or releases its reservation before it answers. If the process
dies in between, the reservation would stay outstanding forever; this loop releases request
reservations (ids `req_…`) older than any request can run. Task reservations have their own
ids and are settled by the task worker, never here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.billing import ledger

__all__ = ["REQUEST_PREFIX", "STALE_AFTER", "sweep_loop", "sweep_once"]

REQUEST_PREFIX = "req_"
# Far longer than a request can take (upstream timeouts default to 600 s in total).
STALE_AFTER = timedelta(hours=1)
log = logging.getLogger("pixelgate.billing")


async def sweep_once(engine: AsyncEngine, max_age: timedelta) -> int:
    async with engine.begin() as conn:
        count = await ledger.release_stale(conn, datetime.now(UTC) - max_age, REQUEST_PREFIX)
    if count:
        log.warning("released %d stale request reservation(s) older than %s", count, max_age)
    return count


async def sweep_loop(
    engine: AsyncEngine, interval: float, max_age: timedelta = STALE_AFTER
) -> None:
    while True:
        try:
            await sweep_once(engine, max_age)
        except Exception:
            log.exception("releasing stale reservations failed")
        await asyncio.sleep(interval)
