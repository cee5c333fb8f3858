"""`GET /openapi.json`: the gateway's OpenAPI document (shipped as YAML in this package)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.http.jsonio import JSONResponse

__all__ = ["load_openapi", "routes"]


@cache
def load_openapi() -> dict[str, Any]:
    text = resources.files("pixelgate.api").joinpath("openapi.yaml").read_text("utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


async def openapi(request: Request) -> Response:
    return JSONResponse(load_openapi())


routes = [Route("/openapi.json", openapi, methods=["GET"])]
