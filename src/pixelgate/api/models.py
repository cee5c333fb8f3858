"""`GET /v1/models` and `GET /v1/models/{id}`: OpenAI's model objects, extended with what
each model accepts and costs — operations, sizes, aspect ratios, resolutions, sync or async,
max n, streaming and price fields — generated from the catalog contracts and the price book.

`?recommended_for=image` keeps the models the catalog recommends for that use (seed 003's
discovery call for coding agents). Only models the calling key may use are listed.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pixelgate.api.images import OPENAI
from pixelgate.auth.limits import KeyLimits, model_allowed
from pixelgate.billing.prices import PriceSpec
from pixelgate.core.context import RequestContext
from pixelgate.errors import PermissionDenied
from pixelgate.http.jsonio import JSONResponse
from pixelgate.http.runner import run_endpoint, services_of
from pixelgate.services import Services

__all__ = ["routes"]

_STARTED = int(time.time())
_PRICE_UNITS = {
    "per_image": "micros per image",
    "per_image_tier": "micros per image, by tier of the longest edge (≤1536 1K, ≤2048 2K, 4K)",
    "per_image_size_quality": "micros per image, by size and quality",
    "per_token": "micros per 1,000,000 tokens",
    "per_megapixel": "micros per 1,000,000 output pixels",
}


def _pricing(services: Services, spec: PriceSpec | None, limits: KeyLimits) -> dict[str, Any]:
    multiplier = services.prices.multiplier(limits.group)
    if spec is None:
        return {"mode": "unpriced", "currency": services.prices.currency}
    return {
        **spec.model_dump(mode="json"),
        "currency": services.prices.currency,
        "unit": _PRICE_UNITS[spec.mode],
        "group": limits.group,
        "multiplier": str(multiplier) if multiplier is not None else None,
    }


def _aliases(services: Services, model: str) -> list[str]:
    return sorted({a for d in services.config.deployments if d.model == model for a in d.aliases})


def _model_json(services: Services, model: str, limits: KeyLimits) -> dict[str, Any]:
    contract = services.catalog.contract(model)
    deployments = [d for d in services.config.deployments if d.model == model]
    aliases = _aliases(services, model)
    upstream = deployments[0].target_model if deployments else None
    sizes = contract.sizes
    return {
        "id": model,
        "object": "model",
        "created": _STARTED,
        "owned_by": "pixelgate",
        "description": contract.description,
        "aliases": aliases,
        "operations": [op.value for op in contract.operations],
        "sizes": {
            "fixed": list(sizes.fixed),
            "flexible": sizes.flexible.model_dump() if sizes.flexible else None,
            "auto": sizes.auto,
            "default": contract.default_size,
        },
        "aspect_ratios": list(contract.aspect_ratios),
        "resolutions": list(contract.resolutions),
        "qualities": list(contract.qualities),
        "output_formats": [f.value for f in contract.output_formats],
        "max_n": contract.n_max,
        "modes": list(contract.modes),
        "streaming": contract.streaming,
        "recommended_for": list(contract.recommended_for),
        "pricing": _pricing(services, services.prices.price(model, upstream), limits),
    }


def _limits(ctx: RequestContext) -> KeyLimits:
    return ctx.principal.limits if ctx.principal else KeyLimits()


async def list_models(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        services = services_of(request)
        limits = _limits(ctx)
        wanted = request.query_params.get("recommended_for")
        data = []
        for model in services.router.models():
            if not model_allowed(limits, model, *_aliases(services, model)):
                continue
            if wanted and wanted not in services.catalog.contract(model).recommended_for:
                continue
            data.append(_model_json(services, model, limits))
        return JSONResponse({"object": "list", "data": data})

    return await run_endpoint(request, OPENAI, handle)


async def get_model(request: Request) -> Response:
    async def handle(ctx: RequestContext) -> Response:
        services = services_of(request)
        asked = request.path_params["model_id"]
        model = services.router.canonical(asked)
        limits = _limits(ctx)
        if not model_allowed(limits, model, asked, *_aliases(services, model)):
            raise PermissionDenied(
                f"This API key may not use the model {asked!r}.",
                param="model",
                code="model_not_allowed",
            )
        return JSONResponse(_model_json(services, model, limits))

    return await run_endpoint(request, OPENAI, handle)


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
]
