"""Requests and tasks: the newest async tasks (refreshed live by console.js through
views_tasks.tasks_json until they finish), then the usage log (status, latency, model,
deployment, cost) with each request's stored images as thumbnails behind signed links —
never base64 in the page.

Only images stored by the gateway have thumbnails: answers with `response_format: url`, and
base64 answers kept for an Idempotency-Key replay. A plain `b64_json` answer stores nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from pixelgate.console import data
from pixelgate.console.views_tasks import recent_task_rows
from pixelgate.console.web import page, to_login, viewer
from pixelgate.http.runner import services_of

__all__ = ["requests_page"]

PAGE_SIZE = 50


async def requests_page(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    services = services_of(request)
    q = request.query_params
    before_raw = q.get("before", "")
    before = int(before_raw) if before_raw.isdigit() else None
    key_filter = (q.get("key") or None) if who.is_admin else who.key_id
    model = q.get("model") or None
    rows, cursor = await data.recent_requests(services.engine, key_filter, model, PAGE_SIZE, before)
    now = datetime.now(UTC)
    stored = await data.images_for_requests(
        services.engine, [r.request_id for r in rows], who.scope, now
    )
    thumbs = {
        rid: [
            services.files.signed_path(img.file_id, int(img.expires_at.timestamp()))
            for img in images
        ]
        for rid, images in stored.items()
    }
    return page(
        request,
        who,
        "requests.html",
        rows=rows,
        thumbs=thumbs,
        tasks=await recent_task_rows(request, who),
        cursor=cursor,
        key_filter=key_filter if who.is_admin else None,
        model=model,
        names=await data.key_names(services.engine) if who.is_admin else {},
        model_choices=await data.models_used(services.engine, who.scope),
    )
