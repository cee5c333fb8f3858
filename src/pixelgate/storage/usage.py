"""The usage log: one row per request, never image data, never more than a prompt preview.

Rows are written by group commit (storage/group_commit.py): a request waits until its row
is committed, but one transaction carries every row queued meanwhile.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.core.context import RequestContext
from pixelgate.storage.group_commit import GroupCommit
from pixelgate.storage.tables import usage_log

__all__ = ["PROMPT_PREVIEW_CHARS", "UsageLog"]

PROMPT_PREVIEW_CHARS = 80
log = logging.getLogger("pixelgate.usage")


class UsageLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._rows = GroupCommit(engine, usage_log)

    @staticmethod
    def row(ctx: RequestContext, status: int, error_code: str | None) -> dict[str, Any]:
        preview = ctx.prompt_preview
        if preview is not None and len(preview) > PROMPT_PREVIEW_CHARS:
            preview = preview[: PROMPT_PREVIEW_CHARS - 1] + "…"
        return {
            "request_id": ctx.request_id,
            "created_at": datetime.now(UTC),
            "key_id": ctx.key_id,
            "dialect": ctx.dialect,
            "endpoint": ctx.endpoint[:200],
            "model": ctx.model[:200] if ctx.model else None,
            "deployment": ctx.deployment,
            "operation": ctx.operation,
            "status": status,
            "latency_ms": int((time.monotonic() - ctx.started) * 1000),
            "images": ctx.images,
            "bytes": ctx.bytes_out,
            "error_code": error_code[:80] if error_code else None,
            "prompt_preview": preview,
        }

    async def record(self, ctx: RequestContext, status: int, error_code: str | None) -> None:
        """Return once the row is committed (or its write failed and was logged: a usage
        row never fails the request it describes)."""
        try:
            await self._rows.insert(self.row(ctx, status, error_code))
        except Exception:
            log.exception("could not write the usage row for request %s", ctx.request_id)

    async def aclose(self) -> None:
        """Wait for the rows still being written (a clean shutdown loses none)."""
        await self._rows.aclose()
