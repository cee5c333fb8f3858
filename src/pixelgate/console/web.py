"""What every console page shares: who is looking (the signed-in viewer), CSRF checks, and
rendering a template with the console's security headers."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pixelgate.console.money import format_money
from pixelgate.console.session import Session, SessionSigner
from pixelgate.http.runner import services_of
from pixelgate.services import secret_key

__all__ = [
    "COOKIE",
    "PATH",
    "PRE_COOKIE",
    "SECURITY_HEADERS",
    "Viewer",
    "admin_matches",
    "checked_form",
    "forbidden",
    "is_https",
    "issue_cookie",
    "money_of",
    "page",
    "signer",
    "to_login",
    "viewer",
]

COOKIE = "pg_console"
PRE_COOKIE = "pg_console_pre"
PATH = "/console"
# Pages use only the gateway's own assets: no inline script, no third-party origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person: the admin (every key's data) or one client key (its own)."""

    is_admin: bool
    key_id: str | None
    name: str
    nonce: str
    csrf: str

    @property
    def scope(self) -> str | None:
        """The key whose rows this viewer may see; None means every key."""
        return None if self.is_admin else self.key_id


@cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("pixelgate.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def signer(request: Request) -> SessionSigner:
    state = request.app.state
    existing = getattr(state, "console_signer", None)
    if isinstance(existing, SessionSigner):
        return existing
    made = SessionSigner(secret_key(services_of(request).settings))
    state.console_signer = made
    return made


def is_https(request: Request) -> bool:
    public = services_of(request).settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def admin_matches(request: Request, given: str) -> bool:
    configured = services_of(request).settings.admin_key
    if configured is None:
        return False
    return hmac.compare_digest(given.encode(), configured.get_secret_value().encode())


def _admin_fp(request: Request) -> str | None:
    configured = services_of(request).settings.admin_key
    if configured is None:
        return None
    return signer(request).admin_fingerprint(configured.get_secret_value())


async def viewer(request: Request) -> Viewer | None:
    """The viewer of a valid session cookie whose admin key or client key is still valid."""
    sign = signer(request)
    session: Session | None = sign.read(request.cookies.get(COOKIE), time.time())
    if session is None:
        return None
    csrf = sign.csrf_token(session.nonce)
    if session.role == "admin":
        fp = _admin_fp(request)
        if fp is None or session.admin_fp is None or not hmac.compare_digest(fp, session.admin_fp):
            return None
        return Viewer(True, None, "admin", session.nonce, csrf)
    if session.key_id is None:
        return None
    principal = await services_of(request).keys.principal(session.key_id)
    if principal is None:
        return None
    return Viewer(False, principal.key_id, principal.name, session.nonce, csrf)


def issue_cookie(request: Request, response: Response, is_admin: bool, key_id: str | None) -> None:
    value = signer(request).issue(
        "admin" if is_admin else "key",
        key_id,
        _admin_fp(request) if is_admin else None,
        time.time(),
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=12 * 3600,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


async def checked_form(request: Request, who: Viewer) -> FormData | None:
    """The posted form when its CSRF token matches the session, else None."""
    form = await request.form(max_files=0, max_fields=32)
    token = form.get("csrf")
    if not isinstance(token, str) or not signer(request).check_csrf(who.nonce, token):
        return None
    return form


def to_login(request: Request) -> Response:
    return RedirectResponse(f"{PATH}/login", status_code=303)


def money_of(request: Request) -> partial[str]:
    """Micro-units → an amount in the account currency (`money(6000)` → "$0.0060")."""
    return partial(format_money, currency=services_of(request).prices.currency)


def page(
    request: Request, who: Viewer | None, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    html = (
        _templates()
        .get_template(template)
        .render(
            viewer=who,
            path=request.url.path,
            prefix=PATH,
            currency=services_of(request).prices.currency,
            money=money_of(request),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def forbidden(request: Request, who: Viewer | None, message: str) -> HTMLResponse:
    return page(request, who, "error.html", status=403, message=message)
