"""Playground: pick a model, fill in the fields its contract takes, generate or edit.

The page's script posts to `/console/playground/run`, which calls the gateway's own
`/v1/images/*` endpoints in-process (through the whole app: auth, contract, routing,
usage log, billing) acting for the signed-in key — or, for the admin, for the key picked on the
page — without ever holding that key's secret. Answers are always signed links
(`response_format: url`), so the page shows images by URL and the gallery has them. The
answer carries what the request cost (its usage row's committed cost).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pixelgate.console import data
from pixelgate.console.playground import model_specs
from pixelgate.console.web import money_of, page, signer, to_login, viewer
from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import ACTING_KEY_SCOPE, services_of

__all__ = ["playground_page", "playground_run"]

ENDPOINTS = {"generate": "/v1/images/generations", "edit": "/v1/images/edits"}
PROXY_TIMEOUT = httpx.Timeout(None)  # the gateway's own deadlines apply inside


def _script_json(value: Any) -> Markup:
    """JSON safe inside <script type="application/json"> (no "</script>" can close it)."""
    text = orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text)  # escaped above; it is data, never executed


async def playground_page(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return to_login(request)
    services = services_of(request)
    keys = [k for k in await services.keys.list() if k.revoked_at is None] if who.is_admin else []
    return page(
        request,
        who,
        "playground.html",
        spec=_script_json(model_specs(services.router.models(), services.catalog)),
        keys=keys,
        selected_key=request.query_params.get("key", ""),
    )


def _acting(app: ASGIApp, key_id: str) -> ASGIApp:
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, ACTING_KEY_SCOPE: key_id}, receive, send)

    return call


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": {"message": message}}, status_code=status)


async def _files(form: FormData) -> list[tuple[str, tuple[str, bytes, str]]]:
    uploads = [f for f in form.getlist("image") if isinstance(f, UploadFile)]
    name = "image" if len(uploads) == 1 else "image[]"
    parts = []
    for upload in uploads:
        parts.append(
            (name, (upload.filename or "image.png", await upload.read(), upload.content_type or ""))
        )
    mask = form.get("mask")
    if isinstance(mask, UploadFile) and mask.filename:
        parts.append(("mask", (mask.filename, await mask.read(), mask.content_type or "")))
    return parts


async def playground_run(request: Request) -> Response:
    who = await viewer(request)
    if who is None:
        return _error(401, "Your console session has ended; sign in again.")
    if not signer(request).check_csrf(who.nonce, request.headers.get("x-csrf-token")):
        return _error(403, "Invalid CSRF token; reload the page.")
    limit = services_of(request).settings.max_images_per_request
    form = await request.form(max_files=limit + 1, max_fields=8)
    try:
        operation = str(form.get("operation", ""))
        body = orjson.loads(str(form.get("body", "")))
        if operation not in ENDPOINTS or not isinstance(body, dict):
            return _error(400, "operation must be generate or edit, and body a JSON object.")
        key_id = who.key_id if not who.is_admin else str(form.get("key_id") or "")
        if not key_id:
            return _error(400, "Pick the key the playground should use.")
        body["response_format"] = "url"
        body.pop("stream", None)
        started = datetime.now(UTC) - timedelta(seconds=5)
        app = _acting(request.app, key_id)
        base = str(request.base_url).rstrip("/")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=base, timeout=PROXY_TIMEOUT
        ) as client:
            if operation == "generate":
                resp = await client.post(ENDPOINTS[operation], json=body)
            else:
                fields = {k: v if isinstance(v, str) else orjson.dumps(v).decode()
                          for k, v in body.items()}  # fmt: skip
                resp = await client.post(
                    ENDPOINTS[operation], data=fields, files=await _files(form)
                )
    finally:
        await form.close()
    try:
        answer = resp.json()
    except ValueError:
        answer = {"error": {"message": resp.text[:500]}}
    request_id = resp.headers.get("x-request-id")
    # What it cost: the usage row is written before the answer, with the committed cost.
    cost = None
    if request_id:
        cost = await data.request_cost(services_of(request).engine, request_id, key_id, started)
    return JSONResponse(
        {
            "status": resp.status_code,
            "request_id": request_id,
            "dropped_params": resp.headers.get("x-pixelgate-dropped-params"),
            "cost_micros": cost,
            "cost": money_of(request)(cost) if cost is not None else None,
            "response": answer,
        }
    )
