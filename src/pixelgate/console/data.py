"""Every database read the console makes, in one module.

The pages never build queries themselves: they call these functions (and, for tasks, the
ones in `data_tasks.py`). Costs are the `cost` each usage row carries (what the ledger
committed); balances are the ledger's balance rows.

Scoping is by `key_id`: a console signed in with a client key passes its own key id, and
every function then returns only that key's rows. None means every key (the admin view).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from pixelgate.storage.tables import api_keys, files, key_balances, usage_log

__all__ = [
    "DayUsage",
    "DeploymentStats",
    "GroupUsage",
    "RequestRow",
    "StoredImage",
    "UsageFilter",
    "balances",
    "by_key",
    "by_model",
    "daily",
    "deployment_stats",
    "export_rows",
    "images_for_requests",
    "key_names",
    "models_used",
    "recent_requests",
    "request_cost",
]


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which usage rows a page looks at: a key (or every key), a model, and whole UTC days."""

    start: date
    end: date
    key_id: str | None = None
    model: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        since = datetime.combine(self.start, time.min, UTC)
        until = datetime.combine(self.end + timedelta(days=1), time.min, UTC)
        conds = [usage_log.c.created_at >= since, usage_log.c.created_at < until]
        if self.key_id is not None:
            conds.append(usage_log.c.key_id == self.key_id)
        if self.model:
            conds.append(usage_log.c.model == self.model)
        return conds

    def days(self) -> list[date]:
        count = (self.end - self.start).days + 1
        return [self.start + timedelta(days=i) for i in range(max(count, 0))]


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date
    requests: int
    images: int
    errors: int
    spend_micros: int = 0  # the costs committed for the day's requests


@dataclass(frozen=True, slots=True)
class GroupUsage:
    name: str
    requests: int
    images: int
    errors: int
    avg_latency_ms: int
    spend_micros: int = 0


@dataclass(frozen=True, slots=True)
class RequestRow:
    request_id: str
    created_at: datetime
    key_id: str | None
    endpoint: str
    model: str | None
    deployment: str | None
    operation: str | None
    status: int
    latency_ms: int
    images: int
    error_code: str | None
    prompt_preview: str | None
    cost_micros: int = 0  # committed to the ledger for this request (usage_log.cost)


@dataclass(frozen=True, slots=True)
class StoredImage:
    file_id: str
    request_id: str
    content_type: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class DeploymentStats:
    deployment: str
    requests: int
    errors: int
    avg_latency_ms: int
    p95_latency_ms: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def _day_column(engine: AsyncEngine) -> ColumnElement[Any]:
    """The UTC calendar day of a usage row, on SQLite (UTC wall-clock text) and PostgreSQL."""
    if engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", usage_log.c.created_at), Date)
    return func.date(usage_log.c.created_at)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _errors() -> ColumnElement[Any]:
    return func.sum(case((usage_log.c.status >= 400, 1), else_=0))


async def daily(engine: AsyncEngine, flt: UsageFilter) -> list[DayUsage]:
    """Requests, images and failed requests per day, every day of the range present."""
    day = _day_column(engine).label("day")
    stmt = (
        select(
            day,
            func.count().label("requests"),
            func.coalesce(func.sum(usage_log.c.images), 0).label("images"),
            _errors().label("errors"),
            func.coalesce(func.sum(usage_log.c.cost), 0).label("spend"),
        )
        .where(*flt.conditions())
        .group_by(day)
    )
    async with engine.connect() as conn:
        found = {_as_date(r.day): r for r in (await conn.execute(stmt)).all()}
    out = []
    for d in flt.days():
        row = found.get(d)
        out.append(
            DayUsage(d, int(row.requests), int(row.images), int(row.errors or 0), int(row.spend))
            if row
            else DayUsage(d, 0, 0, 0)
        )
    return out


async def _grouped(
    engine: AsyncEngine, flt: UsageFilter, column: ColumnElement[Any]
) -> list[GroupUsage]:
    name = func.coalesce(column, "").label("name")
    stmt = (
        select(
            name,
            func.count().label("requests"),
            func.coalesce(func.sum(usage_log.c.images), 0).label("images"),
            _errors().label("errors"),
            func.avg(usage_log.c.latency_ms).label("latency"),
            func.coalesce(func.sum(usage_log.c.cost), 0).label("spend"),
        )
        .where(*flt.conditions())
        .group_by(name)
        .order_by(func.count().desc())
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        GroupUsage(
            r.name,
            int(r.requests),
            int(r.images),
            int(r.errors or 0),
            round(r.latency or 0),
            int(r.spend),
        )
        for r in rows
    ]


async def by_model(engine: AsyncEngine, flt: UsageFilter) -> list[GroupUsage]:
    return await _grouped(engine, flt, usage_log.c.model)


async def by_key(engine: AsyncEngine, flt: UsageFilter) -> list[GroupUsage]:
    """Grouped by key id ("" for requests refused before a key was known)."""
    return await _grouped(engine, flt, usage_log.c.key_id)


async def export_rows(engine: AsyncEngine, flt: UsageFilter) -> list[tuple[Any, ...]]:
    """(day, key id, model, requests, images, errors, spend) per day, key and model, for CSV."""
    day = _day_column(engine).label("day")
    stmt = (
        select(
            day,
            usage_log.c.key_id,
            usage_log.c.model,
            func.count(),
            func.coalesce(func.sum(usage_log.c.images), 0),
            _errors(),
            func.coalesce(func.sum(usage_log.c.cost), 0),
        )
        .where(*flt.conditions())
        .group_by(day, usage_log.c.key_id, usage_log.c.model)
        .order_by(day, usage_log.c.key_id, usage_log.c.model)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [
        (
            _as_date(r[0]).isoformat(),
            r[1] or "",
            r[2] or "",
            int(r[3]),
            int(r[4]),
            int(r[5] or 0),
            int(r[6] or 0),
        )
        for r in rows
    ]


async def models_used(engine: AsyncEngine, key_id: str | None) -> list[str]:
    stmt = select(usage_log.c.model).where(usage_log.c.model.is_not(None)).distinct()
    if key_id is not None:
        stmt = stmt.where(usage_log.c.key_id == key_id)
    async with engine.connect() as conn:
        return sorted(r[0] for r in (await conn.execute(stmt)).all())


async def balances(engine: AsyncEngine, key_id: str | None) -> dict[str, int]:
    """Each key's available balance in micro-units: the ledger's balance row, which every
    credit, debit, reservation and release moves in the same transaction as its entry."""
    stmt = select(key_balances.c.key_id, key_balances.c.available)
    if key_id is not None:
        stmt = stmt.where(key_balances.c.key_id == key_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {r.key_id: int(r.available) for r in rows}


async def request_cost(
    engine: AsyncEngine, request_id: str, key_id: str, since: datetime
) -> int | None:
    """What the ledger committed for one request of a key made after `since` (its usage
    row's cost; the key and time narrow the search to an index), None without a row."""
    stmt = (
        select(usage_log.c.cost)
        .where(
            usage_log.c.key_id == key_id,
            usage_log.c.created_at >= since,
            usage_log.c.request_id == request_id,
        )
        .limit(1)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(stmt)).first()
    return int(row.cost or 0) if row is not None else None


async def key_names(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(api_keys.c.id, api_keys.c.name))).all()
    return {r.id: r.name for r in rows}


async def recent_requests(
    engine: AsyncEngine,
    key_id: str | None,
    model: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> tuple[list[RequestRow], int | None]:
    """The newest usage rows (optionally older than row id `before`) and the cursor of the
    next page, if there is one."""
    stmt = select(usage_log).order_by(usage_log.c.id.desc()).limit(limit + 1)
    if key_id is not None:
        stmt = stmt.where(usage_log.c.key_id == key_id)
    if model:
        stmt = stmt.where(usage_log.c.model == model)
    if before is not None:
        stmt = stmt.where(usage_log.c.id < before)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    cursor = rows[limit - 1].id if len(rows) > limit else None
    return [
        RequestRow(
            request_id=r.request_id,
            created_at=r.created_at,
            key_id=r.key_id,
            endpoint=r.endpoint,
            model=r.model,
            deployment=r.deployment,
            operation=r.operation,
            status=r.status,
            latency_ms=r.latency_ms,
            images=r.images,
            error_code=r.error_code,
            prompt_preview=r.prompt_preview,
            cost_micros=int(r.cost or 0),
        )
        for r in rows[:limit]
    ], cursor


async def images_for_requests(
    engine: AsyncEngine, request_ids: Iterable[str], key_id: str | None, now: datetime
) -> dict[str, list[StoredImage]]:
    """Stored, unexpired files of these requests (of this key only, for a key's console)."""
    ids = list(request_ids)
    if not ids:
        return {}
    stmt = (
        select(files.c.id, files.c.request_id, files.c.content_type, files.c.expires_at)
        .where(files.c.request_id.in_(ids), files.c.expires_at > now)
        .order_by(files.c.created_at)
    )
    if key_id is not None:
        stmt = stmt.where(files.c.key_id == key_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    out: dict[str, list[StoredImage]] = defaultdict(list)
    for r in rows:
        out[r.request_id].append(StoredImage(r.id, r.request_id, r.content_type, r.expires_at))
    return dict(out)


def _p95(values: Sequence[int]) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def deployment_stats(
    engine: AsyncEngine, since: datetime, sample: int = 5000
) -> dict[str, DeploymentStats]:
    """Requests, upstream-side failures (status ≥ 500) and latency per deployment since a
    time, over at most the `sample` newest rows (bounded work on a busy gateway)."""
    stmt = (
        select(usage_log.c.deployment, usage_log.c.status, usage_log.c.latency_ms)
        .where(and_(usage_log.c.created_at >= since, usage_log.c.deployment.is_not(None)))
        .order_by(usage_log.c.id.desc())
        .limit(sample)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    latencies: dict[str, list[int]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for r in rows:
        latencies[r.deployment].append(r.latency_ms)
        errors[r.deployment] += r.status >= 500
    return {
        name: DeploymentStats(
            name, len(values), errors[name], round(sum(values) / len(values)), _p95(values)
        )
        for name, values in latencies.items()
    }
