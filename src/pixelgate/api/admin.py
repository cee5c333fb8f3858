"""Admin endpoints guarded by PIXELGATE_ADMIN_KEY: client keys, their limits and credit.

    GET  /admin/keys                 list keys with limits and balance
    POST /admin/keys                 create (name, limits, opening balance_micros)
    GET  /admin/keys/{id}            one key, with its balance derived from the ledger
    PATCH /admin/keys/{id}           change limits, allowed models, enabled, name
    DELETE /admin/keys/{id}          revoke
    POST /admin/keys/{id}/credit     add credit (amount_micros, idempotency key)
    POST /admin/keys/{id}/debit      take credit back (same body; never below zero: 402)

Money is integer micro-units of the account currency in both directions. Unknown body fields
are refused, so a typo (`daily_limit` for `daily_limit_micros`) cannot silently do nothing.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.auth.api_keys import KeyInfo, extract_key
from pixelgate.auth.limits import LIMIT_INPUTS, KeyLimits, parse_limits
from pixelgate.billing import ledger
from pixelgate.dialects import openai_images
from pixelgate.errors import (
    AuthenticationError,
    GatewayError,
    InvalidParameter,
    NotFound,
    PermissionDenied,
)
from pixelgate.http.jsonio import JSONResponse, read_json_object
from pixelgate.http.runner import services_of
from pixelgate.services import Services
from pixelgate.storage.tables import key_balances

__all__ = ["check_admin", "guarded", "routes"]


def check_admin(request: Request) -> None:
    configured = services_of(request).settings.admin_key
    if configured is None:
        raise PermissionDenied("Admin endpoints are disabled: set PIXELGATE_ADMIN_KEY.")
    given = extract_key(request.headers)
    if given is None or not hmac.compare_digest(
        given.encode(), configured.get_secret_value().encode()
    ):
        raise AuthenticationError("Invalid admin key.")


def guarded(
    handler: Callable[[Request, Services], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Admin check first; any GatewayError answered in the OpenAI error shape."""

    async def endpoint(request: Request) -> Response:
        try:
            check_admin(request)
            return await handler(request, services_of(request))
        except GatewayError as err:
            return JSONResponse(openai_images.render_error(err), status_code=err.status)

    return endpoint


def _key_json(info: KeyInfo, balance: int | None = None) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "created_at": info.created_at.isoformat(),
        "revoked": info.revoked_at is not None,
        **info.limits.as_json(),
        "balance_micros": balance,
    }


def _refuse_unknown(body: dict[str, Any], allowed: frozenset[str]) -> None:
    for name in body:
        if name not in allowed:
            raise InvalidParameter(f"Unknown field {name!r}.", param=name)


def _limits(services: Services, body: dict[str, Any], base: KeyLimits) -> KeyLimits:
    return parse_limits(body, base, groups=services.prices.groups())


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidParameter("name is required.", param="name")
    return name.strip()


def _micros(body: dict[str, Any], name: str, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameter(f"{name} must be a non-negative integer.", param=name)
    return value


async def _balances(services: Services) -> dict[str, int]:
    async with services.engine.connect() as conn:
        rows = (await conn.execute(select(key_balances))).all()
    return {r.key_id: int(r.available) for r in rows}


async def _balance_json(services: Services, key_id: str) -> dict[str, int | None]:
    async with services.engine.connect() as conn:
        b = await ledger.balance(conn, key_id)
    return {
        "credited_micros": b.credited,
        "debited_micros": b.debited,
        "spent_micros": b.committed,
        "reserved_micros": b.outstanding,
        "available_micros": b.available,
        "balance_row_micros": b.cached,
    }


async def _active(services: Services, key_id: str) -> KeyInfo:
    info = await services.keys.get(key_id)
    if info is None or info.revoked_at is not None:
        raise NotFound("No active key with this id.")
    return info


@guarded
async def keys(request: Request, services: Services) -> Response:
    if request.method == "GET":
        balances = await _balances(services)
        data = [_key_json(k, balances.get(k.id)) for k in await services.keys.list()]
        return JSONResponse({"data": data})
    body = await read_json_object(request)
    _refuse_unknown(body, LIMIT_INPUTS | {"name", "balance_micros"})
    name = _name(body)
    limits = _limits(services, body, KeyLimits(unlimited=False))
    opening = _micros(body, "balance_micros", 0)
    created = await services.keys.create(name, limits, opening)
    return JSONResponse(
        {**_key_json(created.info, opening), "key": created.secret}, status_code=201
    )


@guarded
async def key_item(request: Request, services: Services) -> Response:
    key_id = request.path_params["key_id"]
    if request.method == "DELETE":
        if not await services.keys.revoke(key_id):
            raise NotFound("No active key with this id.")
        return JSONResponse({"id": key_id, "revoked": True})
    if request.method == "PATCH":
        info = await _active(services, key_id)
        body = await read_json_object(request)
        _refuse_unknown(body, LIMIT_INPUTS | {"name"})
        limits = _limits(services, body, info.limits)
        name = _name(body) if "name" in body else info.name
        if not await services.keys.update(key_id, limits, name):
            raise NotFound("No active key with this id.")
    info_or_none = await services.keys.get(key_id)
    if info_or_none is None:
        raise NotFound("No key with this id.")
    balance = await _balance_json(services, key_id)
    return JSONResponse(
        {**_key_json(info_or_none, balance["balance_row_micros"]), "balance": balance}
    )


LedgerEntry = Callable[[AsyncConnection, str, int, str, str | None], Awaitable[bool]]


async def _money_entry(
    request: Request, services: Services, entry: LedgerEntry, verb: str
) -> Response:
    """Credit or debit: the same body, idempotency key and answer."""
    key_id = request.path_params["key_id"]
    await _active(services, key_id)
    body = await read_json_object(request)
    _refuse_unknown(body, frozenset({"amount_micros", "idempotency_key", "note"}))
    amount = _micros(body, "amount_micros")
    if amount == 0:
        raise InvalidParameter("amount_micros must be positive.", param="amount_micros")
    idem = body.get("idempotency_key") or request.headers.get("idempotency-key")
    if idem is None:
        idem = "auto:" + uuid.uuid4().hex
    if not isinstance(idem, str) or len(idem) > 150:
        raise InvalidParameter("idempotency_key must be a string.", param="idempotency_key")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise InvalidParameter("note must be a string.", param="note")
    async with services.engine.begin() as conn:
        done = await entry(conn, key_id, amount, f"{key_id}:{idem}", note)
    return JSONResponse(
        {
            "key_id": key_id,
            "amount_micros": amount,
            verb: done,
            "duplicate": not done,
            "balance": await _balance_json(services, key_id),
        }
    )


@guarded
async def credit(request: Request, services: Services) -> Response:
    return await _money_entry(request, services, ledger.credit, "credited")


@guarded
async def debit(request: Request, services: Services) -> Response:
    return await _money_entry(request, services, ledger.debit, "debited")


routes = [
    Route("/admin/keys", keys, methods=["GET", "POST"]),
    Route("/admin/keys/{key_id}", key_item, methods=["GET", "PATCH", "DELETE"]),
    Route("/admin/keys/{key_id}/credit", credit, methods=["POST"]),
    Route("/admin/keys/{key_id}/debit", debit, methods=["POST"]),
]
