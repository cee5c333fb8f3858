"""Sign-in with the admin key or a client key, and sign-out."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pixelgate.console.web import (
    COOKIE,
    PATH,
    PRE_COOKIE,
    admin_matches,
    checked_form,
    is_https,
    issue_cookie,
    page,
    signer,
    to_login,
    viewer,
)
from pixelgate.http.runner import services_of

__all__ = ["index", "login", "logout"]


async def index(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    return RedirectResponse(f"{PATH}/{'keys' if who.is_admin else 'usage'}", status_code=303)


def _login_form(request: Request, error: str | None, status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = page(
        request,
        None,
        "login.html",
        status=status,
        error=error,
        csrf=signer(request).csrf_token("pre|" + nonce),
        admin_enabled=services_of(request).settings.admin_key is not None,
    )
    response.set_cookie(
        PRE_COOKIE,
        nonce,
        max_age=3600,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


async def login(request: Request) -> Response:
    if request.method == "GET":
        if await viewer(request) is not None:
            return RedirectResponse(PATH + "/", status_code=303)
        return _login_form(request, None)
    form = await request.form(max_files=0, max_fields=8)
    pre = request.cookies.get(PRE_COOKIE)
    token = form.get("csrf")
    if (
        pre is None
        or not isinstance(token, str)
        or not signer(request).check_csrf("pre|" + pre, token)
    ):
        return _login_form(request, "The sign-in form expired; please try again.", 400)
    given = form.get("key")
    given = given.strip() if isinstance(given, str) else ""
    if given and admin_matches(request, given):
        response = RedirectResponse(PATH + "/keys", status_code=303)
        issue_cookie(request, response, True, None)
    else:
        principal = await services_of(request).keys.authenticate(given) if given else None
        if principal is None:
            return _login_form(request, "That key is not valid (or has been revoked).", 401)
        response = RedirectResponse(PATH + "/usage", status_code=303)
        issue_cookie(request, response, False, principal.key_id)
    response.delete_cookie(PRE_COOKIE, path=PATH)
    return response


async def logout(request: Request) -> Response:
    who = await viewer(request)
    if who is not None and await checked_form(request, who) is None:
        return page(request, who, "error.html", status=403, message="Invalid CSRF token.")
    response = to_login(request)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
    return response
