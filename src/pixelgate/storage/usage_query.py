"""Reading the usage log back: filters, totals by day and model, rows for bills and CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.auth.limits import aware
from pixelgate.storage.tables import usage_log

__all__ = ["ROW_COLUMNS", "UsageFilter", "daily_totals", "iter_rows", "row_json", "rows", "totals"]

ROW_COLUMNS = (
    "request_id",
    "created_at",
    "key_id",
    "model",
    "deployment",
    "endpoint",
    "operation",
    "status",
    "error_code",
    "images",
    "latency_ms",
    "cost",
    "reserved",
    "price_mode",
    "price_tier",
    "price_quality",
    "text_input_tokens",
    "image_input_tokens",
    "image_output_tokens",
    "text_output_tokens",
    "price_detail",
)


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Rows in [start, end), optionally of one key and one model. Rows that named no model
    (listing models, reading usage) are never counted: they cost nothing."""

    start: datetime
    end: datetime
    key_id: str | None = None
    model: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        clauses = [
            usage_log.c.created_at >= self.start,
            usage_log.c.created_at < self.end,
            usage_log.c.model.is_not(None),
        ]
        if self.key_id is not None:
            clauses.append(usage_log.c.key_id == self.key_id)
        if self.model is not None:
            clauses.append(usage_log.c.model == self.model)
        return clauses


def _day(dialect: str) -> ColumnElement[str]:
    """The UTC calendar day of a row, as YYYY-MM-DD, in the database's own dialect."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", usage_log.c.created_at)
        return func.to_char(utc, "YYYY-MM-DD")
    return func.date(usage_log.c.created_at)  # SQLite stores UTC text


def _sums() -> tuple[Any, ...]:
    ok = case((usage_log.c.status < 400, 1), else_=0)
    return (
        func.count().label("requests"),
        func.coalesce(func.sum(ok), 0).label("succeeded"),
        func.coalesce(func.sum(usage_log.c.images), 0).label("images"),
        func.coalesce(func.sum(usage_log.c.cost), 0).label("cost"),
    )


def _sums_json(row: Any) -> dict[str, int]:
    return {
        "requests": int(row.requests),
        "succeeded": int(row.succeeded),
        "images": int(row.images),
        "cost_micros": int(row.cost),
    }


async def daily_totals(engine: AsyncEngine, flt: UsageFilter) -> list[dict[str, Any]]:
    day = _day(engine.dialect.name).label("date")
    stmt = (
        select(day, usage_log.c.model, *_sums())
        .where(*flt.where())
        .group_by(day, usage_log.c.model)
        .order_by(day, usage_log.c.model)
    )
    async with engine.connect() as conn:
        result = (await conn.execute(stmt)).all()
    return [{"date": str(r.date), "model": r.model, **_sums_json(r)} for r in result]


async def totals(engine: AsyncEngine, flt: UsageFilter) -> dict[str, int]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*_sums()).where(*flt.where()))).one()
    return _sums_json(row)


def _select(flt: UsageFilter) -> Select[Any]:
    columns = [usage_log.c[name] for name in ROW_COLUMNS]
    return select(*columns).where(*flt.where()).order_by(usage_log.c.id)


def row_json(row: Any) -> dict[str, Any]:
    out = {name: getattr(row, name) for name in ROW_COLUMNS}
    created = aware(out["created_at"])
    out["created_at"] = created.isoformat() if created else None
    out["cost_micros"] = out.pop("cost")
    out["reserved_micros"] = out.pop("reserved")
    return out


async def rows(engine: AsyncEngine, flt: UsageFilter, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` rows, oldest first."""
    stmt = _select(flt).order_by(None).order_by(usage_log.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        result = (await conn.execute(stmt)).all()
    return [row_json(r) for r in reversed(result)]


async def iter_rows(engine: AsyncEngine, flt: UsageFilter) -> AsyncIterator[dict[str, Any]]:
    """Every matching row, streamed from the database (for CSV export)."""
    async with engine.connect() as conn:
        result = await conn.stream(_select(flt).execution_options(yield_per=500))
        async for row in result:
            yield row_json(row)
