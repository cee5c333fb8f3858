"""Admin endpoints guarded by PIXELGATE_ADMIN_KEY: create, list and revoke client keys."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.auth.api_keys import KeyInfo, extract_key
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

__all__ = ["routes"]


def _check_admin(request: Request) -> None:
    configured = services_of(request).settings.admin_key
    if configured is None:
        raise PermissionDenied("Admin endpoints are disabled: set PIXELGATE_ADMIN_KEY.")
    given = extract_key(request.headers)
    if given is None or not hmac.compare_digest(
        given.encode(), configured.get_secret_value().encode()
    ):
        raise AuthenticationError("Invalid admin key.")


def _key_json(info: KeyInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "created_at": info.created_at.isoformat(),
        "revoked": info.revoked_at is not None,
    }


async def keys(request: Request) -> Response:
    try:
        _check_admin(request)
        service = services_of(request).keys
        if request.method == "GET":
            return JSONResponse({"data": [_key_json(k) for k in await service.list()]})
        body = await read_json_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameter("name is required.", param="name")
        created = await service.create(name.strip())
        return JSONResponse({**_key_json(created.info), "key": created.secret}, status_code=201)
    except GatewayError as err:
        return JSONResponse(openai_images.render_error(err), status_code=err.status)


async def key_item(request: Request) -> Response:
    try:
        _check_admin(request)
        if not await services_of(request).keys.revoke(request.path_params["key_id"]):
            raise NotFound("No active key with this id.")
        return JSONResponse({"id": request.path_params["key_id"], "revoked": True})
    except GatewayError as err:
        return JSONResponse(openai_images.render_error(err), status_code=err.status)


routes = [
    Route("/admin/keys", keys, methods=["GET", "POST"]),
    Route("/admin/keys/{key_id}", key_item, methods=["DELETE"]),
]
