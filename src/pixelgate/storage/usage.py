"""The usage log: one row per request, never image data, never more than a prompt preview.

Each row carries what the request cost (micro-units), what was reserved for it, and the price
inputs (mode, tier, quality, tokens, the bill's lines), so a bill is explained row by row.

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

__all__ = ["PROMPT_PREVIEW_CHARS", "UsageLog", "price_columns"]

PROMPT_PREVIEW_CHARS = 80
log = logging.getLogger("pixelgate.usage")


def price_columns(ctx: RequestContext) -> dict[str, Any]:
    """The billing columns of a usage row."""
    charge = ctx.charge
    # Every row has every key: a group commit inserts many rows with one executemany.
    row: dict[str, Any] = {
        "cost": ctx.cost,
        "reserved": ctx.reserved,
        "price_mode": ctx.price_mode,
        "price_tier": None,
        "price_quality": None,
        "price_detail": None,
        "text_input_tokens": None,
        "image_input_tokens": None,
        "image_output_tokens": None,
        "text_output_tokens": None,
    }
    if charge is None:
        return row
    detail = charge.detail()
    if ctx.cost != charge.amount:
        detail["charged_micros"] = ctx.cost
    row.update(
        price_mode=charge.mode,
        price_tier=charge.tier,
        price_quality=charge.quality[:32] if charge.quality else None,
        price_detail=detail,
    )
    if charge.tokens is not None:
        row.update(
            text_input_tokens=charge.tokens.text_input,
            image_input_tokens=charge.tokens.image_input,
            image_output_tokens=charge.tokens.image_output,
            text_output_tokens=charge.tokens.text_output,
        )
    return row


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
            **price_columns(ctx),
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
