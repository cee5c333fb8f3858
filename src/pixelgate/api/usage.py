"""Usage reports: `GET /v1/usage` (the calling key) and `GET /admin/usage` (every key, with
filters and `?format=csv`). Money is integer micro-units; rows carry the price inputs and the
bill's lines, so any total can be rebuilt from the rows it sums.

Time range: `start` (inclusive) and `end` (exclusive) as ISO 8601 times, UTC when no zone
is given; a bare date as `end` includes that whole day. Default: the last 30 days.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pixelgate.api.admin import guarded
from pixelgate.api.images import OPENAI
from pixelgate.auth.limits import aware
from pixelgate.billing import ledger
from pixelgate.core.context import RequestContext
from pixelgate.errors import InvalidParameter
from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import run_endpoint, services_of
from pixelgate.services import Services
from pixelgate.storage import usage_query
from pixelgate.storage.usage_query import UsageFilter

__all__ = ["routes"]

DEFAULT_DAYS = 30
MAX_ROWS = 1000
CSV_COLUMNS = (*usage_query.ROW_COLUMNS[:-1], "multiplier", "lines")


def _time(query: Mapping[str, str], name: str, end: bool) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        parsed = aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidParameter(
            f"{name} must be an ISO 8601 date or time, e.g. 2031-01-31.", param=name
        ) from None
    assert parsed is not None
    return parsed.astimezone(UTC)


def _limit(query: Mapping[str, str]) -> int:
    value = query.get("limit", "100")
    if not value.isdigit() or not 1 <= int(value) <= MAX_ROWS:
        raise InvalidParameter(f"limit must be between 1 and {MAX_ROWS}.", param="limit")
    return int(value)


def _filter(query: Mapping[str, str], key_id: str | None) -> UsageFilter:
    end = _time(query, "end", end=True) or datetime.now(UTC)
    start = _time(query, "start", end=False) or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidParameter("start must be before end.", param="start")
    return UsageFilter(start, end, key_id, query.get("model") or None)


def _range(flt: UsageFilter) -> dict[str, str]:
    return {"start": flt.start.isoformat(), "end": flt.end.isoformat()}


async def my_usage(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        services = services_of(request)
        assert ctx.principal is not None
        flt = _filter(request.query_params, ctx.principal.key_id)
        async with services.engine.connect() as conn:
            bal = await ledger.balance(conn, ctx.principal.key_id)
        body: dict[str, Any] = {
            "object": "usage",
            "key_id": ctx.principal.key_id,
            "currency": services.prices.currency,
            **_range(flt),
            "data": await usage_query.daily_totals(services.engine, flt),
            "totals": await usage_query.totals(services.engine, flt),
            "balance": {
                "unlimited": ctx.principal.limits.unlimited,
                "available_micros": bal.available,
                "reserved_micros": bal.outstanding,
                "spent_micros": bal.committed,
            },
        }
        if request.query_params.get("detail") in ("true", "1", "requests"):
            body["requests"] = await usage_query.rows(
                services.engine, flt, _limit(request.query_params)
            )
        return JSONResponse(body)

    return await run_endpoint(request, OPENAI, handle)


def _csv_line(row: dict[str, Any]) -> str:
    detail = row.get("price_detail") or {}
    lines = "; ".join(
        f"{ln['quantity']} {ln['item']} @ {ln['rate_micros']}/{ln['per']}"
        for ln in detail.get("lines", ())
    )
    flat = {**row, "cost": row["cost_micros"], "reserved": row["reserved_micros"]}
    flat.update(multiplier=detail.get("multiplier", ""), lines=lines)
    buf = io.StringIO()
    csv.writer(buf).writerow(["" if flat[c] is None else flat[c] for c in CSV_COLUMNS])
    return buf.getvalue()


async def _csv(services: Services, flt: UsageFilter) -> AsyncIterator[bytes]:
    yield (",".join(CSV_COLUMNS) + "\r\n").encode()
    async for row in usage_query.iter_rows(services.engine, flt):
        yield _csv_line(row).encode()


@guarded
async def admin_usage(request: Request, services: Services) -> Response:
    query = request.query_params
    flt = _filter(query, query.get("key_id") or None)
    fmt = query.get("format", "json")
    if fmt == "csv":
        return StreamingResponse(
            _csv(services, flt),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="pixelgate-usage.csv"'},
        )
    if fmt != "json":
        raise InvalidParameter("format must be json or csv.", param="format")
    data = await usage_query.rows(services.engine, flt, _limit(query))
    totals = await usage_query.totals(services.engine, flt)
    return JSONResponse(
        {
            "object": "usage",
            "currency": services.prices.currency,
            **_range(flt),
            "filters": {"key_id": flt.key_id, "model": flt.model},
            "totals": totals,
            "by_day": await usage_query.daily_totals(services.engine, flt),
            "data": data,
            "has_more": totals["requests"] > len(data),
        }
    )


routes = [
    Route("/v1/usage", my_usage, methods=["GET"]),
    Route("/admin/usage", admin_usage, methods=["GET"]),
]
