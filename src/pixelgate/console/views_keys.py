"""Keys: create (the secret shown once), list with balance, spend and limits, revoke. The
admin edits a key's limits and credit from the same page (views_key_limits.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pixelgate.auth.api_keys import CreatedKey
from pixelgate.console import data
from pixelgate.console.key_forms import form_values, limit_notes, model_choices, new_token
from pixelgate.console.web import (
    PATH,
    Viewer,
    checked_form,
    forbidden,
    money_of,
    page,
    to_login,
    viewer,
)
from pixelgate.http.runner import services_of

__all__ = ["create_key", "keys_page", "render_keys", "revoke_key"]

USAGE_DAYS = 30
NOTICES = {
    "limits": "Limits saved.",
    "credit": "Balance updated.",
    "again": "That form had already been sent: the balance was changed once, not twice.",
}


async def render_keys(
    request: Request,
    who: Viewer,
    created: CreatedKey | None = None,
    error: str = "",
    status: int = 200,
    open_key: str | None = None,
    draft: dict[str, Any] | None = None,
) -> Response:
    """The page; after a refused form, `open_key`'s editor is open showing `draft` (what was
    typed) and `error`, with `status` (400 for a refused value)."""
    services = services_of(request)
    today = datetime.now(UTC).date()
    flt = data.UsageFilter(today - timedelta(days=USAGE_DAYS - 1), today, key_id=who.scope)
    usage = {g.name: g for g in await data.by_key(services.engine, flt)}
    keys = [k for k in await services.keys.list() if who.is_admin or k.id == who.key_id]
    money = money_of(request)
    now = datetime.now(UTC)
    notice_key = request.query_params.get("key")
    served = services.router.models()
    return page(
        request,
        who,
        "keys.html",
        keys=keys,
        usage=usage,
        usage_days=USAGE_DAYS,
        balances=await data.balances(services.engine, who.scope),
        notes={k.id: limit_notes(k.limits, money, now) for k in keys},
        values={
            k.id: draft if draft is not None and k.id == open_key else form_values(k.limits)
            for k in keys
        },
        choices={k.id: model_choices(served, k.limits) for k in keys},
        groups=sorted(services.prices.groups()),
        token=new_token(),
        created=created,
        error=error,
        open_key=open_key,
        notice=NOTICES.get(request.query_params.get("done", "")) if not error else None,
        notice_key=notice_key,
        status=400 if error and status == 200 else status,
    )


async def keys_page(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    return await render_keys(request, who)


async def create_key(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    if not who.is_admin:
        return forbidden(request, who, "Only the admin can create keys.")
    form = await checked_form(request, who)
    if form is None:
        return forbidden(request, who, "Invalid CSRF token; reload the page and try again.")
    service = services_of(request).keys
    if form.get("purpose") == "playground":
        created = await service.create(f"playground {date.today().isoformat()}")
        return RedirectResponse(f"{PATH}/playground?key={created.info.id}", status_code=303)
    name = form.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200:
        return await render_keys(request, who, error="A key needs a name (at most 200 characters).")
    return await render_keys(request, who, created=await service.create(name))


async def revoke_key(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    if not who.is_admin:
        return forbidden(request, who, "Only the admin can revoke keys.")
    if await checked_form(request, who) is None:
        return forbidden(request, who, "Invalid CSRF token; reload the page and try again.")
    await services_of(request).keys.revoke(request.path_params["key_id"])
    return RedirectResponse(f"{PATH}/keys", status_code=303)
