"""`Idempotency-Key` on POST image endpoints: a repeat with the same key and body returns
the first answer (waiting for it while it runs) and is billed once; the same key with
another body is a 409. Streamed requests are not covered (a stream cannot be replayed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pixelgate.core import b64 as b64codec
from pixelgate.core.b64 import RawB64
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageFormat, ImageRequest, sniff_format
from pixelgate.errors import ConflictError, InvalidParameter
from pixelgate.http.jsonio import JSONResponse
from pixelgate.services import Services
from pixelgate.storage.idempotency import ClaimState, fingerprint

__all__ = ["HEADER", "run_idempotent"]

HEADER = "idempotency-key"
WAIT_SECONDS = 600.0
REPLAY_TTL = 24 * 3600


async def _freeze(services: Services, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    """The answer with each base64 image moved into the blob store (never into the DB)."""
    frozen = dict(body)
    items = []
    for item in body.get("data", []):
        if isinstance(item, dict) and isinstance(item.get("b64_json"), str | RawB64):
            data = b64codec.decode(item["b64_json"])
            fmt = sniff_format(data[:16]) or ImageFormat.PNG
            stored = await services.files.store(data, fmt, ctx.key_id, REPLAY_TTL, ctx.request_id)
            item = {k: v for k, v in item.items() if k != "b64_json"} | {"_file": stored.id}
        items.append(item)
    frozen["data"] = items
    return frozen


async def _thaw(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    thawed = dict(body)
    items = []
    for item in body.get("data", []):
        if isinstance(item, dict) and "_file" in item:
            stored = await services.files.get(item["_file"])
            data = await services.files.blobs.get(stored.blob_key) if stored else None
            if data is None:
                raise ConflictError("The first answer for this Idempotency-Key has expired.")
            rest = {k: v for k, v in item.items() if k != "_file"}
            item = {"b64_json": b64codec.encode(data), **rest}
        items.append(item)
    thawed["data"] = items
    return thawed


async def run_idempotent(
    ctx: RequestContext,
    request: Request,
    services: Services,
    req: ImageRequest,
    produce: Callable[[], Awaitable[dict[str, Any]]],
) -> Response:
    idem = request.headers.get(HEADER)
    if idem is None or req.stream or ctx.key_id is None:
        return JSONResponse(await produce())
    if not idem.strip() or len(idem) > 255:
        raise InvalidParameter("Idempotency-Key must be 1 to 255 characters.")
    store = services.idempotency
    digest = fingerprint(ctx.endpoint, req)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        claim = await store.claim(ctx.key_id, idem, digest)
        if claim.state is ClaimState.NEW:
            break
        if claim.state is ClaimState.CONFLICT:
            raise ConflictError(
                "This Idempotency-Key was already used with a different request body."
            )
        if claim.state is ClaimState.DONE and claim.body is not None:
            body = await _thaw(services, claim.body)
            return JSONResponse(
                body, status_code=claim.status or 200, headers={"Idempotent-Replayed": "true"}
            )
        if time.monotonic() > deadline:
            raise ConflictError("A request with this Idempotency-Key is still running.")
        await asyncio.sleep(0.2)
    try:
        body = await produce()
    except BaseException:
        await asyncio.shield(store.forget(ctx.key_id, idem))
        raise
    await store.complete(ctx.key_id, idem, 200, await _freeze(services, ctx, body))
    return JSONResponse(body)
