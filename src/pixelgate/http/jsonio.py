"""Fast JSON in and out (orjson)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pixelgate.errors import InvalidParameter, RequestError, UnsupportedMediaType

__all__ = ["JSONResponse", "read_json_object"]


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_json_object(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    if ctype and ctype.split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(
            f"Unsupported Content-Type {ctype.split(';', 1)[0]!r}: send application/json."
        )
    body = await request.body()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(
            "We could not parse the JSON body of your request. Send valid JSON."
        ) from None
    if not isinstance(data, dict):
        raise InvalidParameter("The JSON body must be an object.")
    return data
