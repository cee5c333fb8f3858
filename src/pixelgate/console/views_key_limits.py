"""The admin's key editor on the Keys page: limits (as `PATCH /admin/keys/{id}`) and credit
(as `POST /admin/keys/{id}/credit`, or taken back with a ledger debit).

Both are CSRF-checked form posts, admin only. Limits go through `auth.limits.parse_limits`
with the configured price groups and are stored with `ApiKeyService.update`; money moves
only through `billing.ledger` in one transaction. A refused value answers 400 with the
page, the key's editor open and the message in it; success redirects back (303).
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pixelgate.auth.api_keys import KeyInfo
from pixelgate.auth.limits import parse_limits
from pixelgate.billing import ledger
from pixelgate.console.key_forms import limits_body, read_adjustment, submitted_values
from pixelgate.console.views_keys import render_keys
from pixelgate.console.web import PATH, Viewer, checked_form, forbidden, page, to_login, viewer
from pixelgate.errors import GatewayError
from pixelgate.http.runner import services_of

__all__ = ["adjust_credit", "save_limits"]


def _done(key_id: str, what: str) -> Response:
    return RedirectResponse(f"{PATH}/keys?done={what}&key={key_id}#key-{key_id}", status_code=303)


async def _admin_form(request: Request) -> tuple[Viewer, FormData, KeyInfo] | Response:
    """The admin's CSRF-checked form and the active key it edits, or the answer refusing it."""
    who = await viewer(request)
    if who is None:
        return to_login(request)
    if not who.is_admin:
        return forbidden(request, who, "Only the admin can change a key's limits and credit.")
    form = await checked_form(request, who)
    if form is None:
        return forbidden(request, who, "Invalid CSRF token; reload the page and try again.")
    info = await services_of(request).keys.get(request.path_params["key_id"])
    if info is None or info.revoked_at is not None:
        return page(request, who, "error.html", status=404, message="No active key with this id.")
    return who, form, info


async def save_limits(request: Request) -> Response:
    checked = await _admin_form(request)
    if isinstance(checked, Response):
        return checked
    who, form, info = checked
    services = services_of(request)
    try:
        body = limits_body(form)
        limits = parse_limits(body, info.limits, groups=services.prices.groups())
    except (ValueError, GatewayError) as err:
        message = err.message if isinstance(err, GatewayError) else str(err)
        draft = submitted_values(form)
        return await render_keys(request, who, error=message, open_key=info.id, draft=draft)
    if not await services.keys.update(info.id, limits):
        return page(request, who, "error.html", status=404, message="No active key with this id.")
    return _done(info.id, "limits")


async def adjust_credit(request: Request) -> Response:
    checked = await _admin_form(request)
    if isinstance(checked, Response):
        return checked
    who, form, info = checked
    engine = services_of(request).engine
    try:
        change = read_adjustment(form)
        idem = f"{info.id}:console:{change.token}"
        async with engine.begin() as conn:
            if change.direction == "add":
                applied = await ledger.credit(conn, info.id, change.amount, idem, change.note)
            else:
                applied = await ledger.debit(conn, info.id, change.amount, idem, change.note)
    except (ValueError, GatewayError) as err:
        message = err.message if isinstance(err, GatewayError) else str(err)
        return await render_keys(request, who, error=message, open_key=info.id)
    return _done(info.id, "credit" if applied else "again")
