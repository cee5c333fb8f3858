"""Usage: images and requests per day (chart), per model and per key, with filters and a
CSV export, spend included (micro-units of the account currency and as an amount); a key's
own console also shows its balance."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from pixelgate.console import data
from pixelgate.console.chart import daily_chart
from pixelgate.console.web import SECURITY_HEADERS, Viewer, page, to_login, viewer
from pixelgate.http.runner import services_of

__all__ = ["usage_csv", "usage_page"]

DEFAULT_DAYS = 14
MAX_DAYS = 366


def _date(value: str | None, fallback: date) -> date:
    try:
        return date.fromisoformat(value) if value else fallback
    except ValueError:
        return fallback


def usage_filter(request: Request, who: Viewer) -> data.UsageFilter:
    """The page's filters from its query string; a key's console is always its own key."""
    q = request.query_params
    today = datetime.now(UTC).date()
    end = _date(q.get("to"), today)
    start = _date(q.get("from"), end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=MAX_DAYS - 1))
    key_id = (q.get("key") or None) if who.is_admin else who.key_id
    return data.UsageFilter(start, end, key_id=key_id, model=q.get("model") or None)


async def usage_page(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    services = services_of(request)
    engine = services.engine
    flt = usage_filter(request, who)
    days = await data.daily(engine, flt)
    own = await services.keys.get(who.key_id) if who.key_id else None
    return page(
        request,
        who,
        "usage.html",
        flt=flt,
        days=days,
        chart=daily_chart(days),
        totals={
            "requests": sum(d.requests for d in days),
            "images": sum(d.images for d in days),
            "errors": sum(d.errors for d in days),
            "spend": sum(d.spend_micros for d in days),
        },
        models=await data.by_model(engine, flt),
        per_key=await data.by_key(engine, flt) if who.is_admin else [],
        names=await data.key_names(engine) if who.is_admin else {},
        model_choices=await data.models_used(engine, who.scope),
        query=request.url.query,
        own_unlimited=own.limits.unlimited if own else None,
        own_balance=(await data.balances(engine, own.id)).get(own.id, 0) if own else 0,
    )


async def usage_csv(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    engine = services_of(request).engine
    flt = usage_filter(request, who)
    names = await data.key_names(engine)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["date", "key_id", "key_name", "model", "requests", "images", "errors", "spend_micros"]
    )
    for day, key_id, model, requests, images, errors, spend in await data.export_rows(engine, flt):
        row = [day, key_id, names.get(key_id, ""), model, requests, images, errors, spend]
        writer.writerow(row)
    filename = f"pixelgate-usage-{flt.start.isoformat()}-{flt.end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
