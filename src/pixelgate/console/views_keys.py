"""Keys: create (the secret shown once), list, revoke. Limits, allowed models and credit
come with billing; the page keeps their form section ready (templates/keys.html)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pixelgate.auth.api_keys import CreatedKey
from pixelgate.console import data
from pixelgate.console.web import PATH, Viewer, checked_form, forbidden, page, to_login, viewer
from pixelgate.http.runner import services_of

__all__ = ["create_key", "keys_page", "revoke_key"]

USAGE_DAYS = 30


async def _render(
    request: Request, who: Viewer, created: CreatedKey | None = None, error: str = ""
) -> Response:
    services = services_of(request)
    today = datetime.now(UTC).date()
    flt = data.UsageFilter(today - timedelta(days=USAGE_DAYS - 1), today, key_id=who.scope)
    usage = {g.name: g for g in await data.by_key(services.engine, flt)}
    keys = [k for k in await services.keys.list() if who.is_admin or k.id == who.key_id]
    return page(
        request,
        who,
        "keys.html",
        keys=keys,
        usage=usage,
        usage_days=USAGE_DAYS,
        created=created,
        error=error,
        status=400 if error else 200,
    )


async def keys_page(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    return await _render(request, who)


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
        return await _render(request, who, error="A key needs a name (at most 200 characters).")
    return await _render(request, who, created=await service.create(name))


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
