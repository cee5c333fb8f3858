"""The one pipeline every image endpoint goes through.

parse (dialect) → resolve model → contract check → load input images → reserve (billing) →
route → provider → post-process (format conversion, store + sign for url) → settle (billing)
→ render (dialect). Usage logging wraps the whole call in the endpoint runner, so failures
are logged too; a failure anywhere after the reservation releases it.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass

from pixelgate.billing.meter import Meter
from pixelgate.catalog import Catalog
from pixelgate.core.context import RequestContext
from pixelgate.core.executor import Executor
from pixelgate.core.imaging import convert, inspect_image
from pixelgate.core.models import (
    GeneratedImage,
    ImageInput,
    ImageRequest,
    ImageResult,
    ResponseFormat,
    Size,
)
from pixelgate.core.router import Router
from pixelgate.errors import GatewayError, InvalidParameter, UpstreamBadResponse
from pixelgate.providers.base import HttpAdapter, LocalEngine, ProviderSpec, Route
from pixelgate.storage.files import FileService

__all__ = ["ImageOutcome", "OutputImage", "Pipeline"]


@dataclass(frozen=True, slots=True)
class OutputImage:
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None
    size: Size | None = None


@dataclass(frozen=True, slots=True)
class ImageOutcome:
    request: ImageRequest
    result: ImageResult
    outputs: tuple[OutputImage, ...]
    echo_fields: bool


@dataclass(frozen=True, slots=True)
class PipelineDeps:
    router: Router
    catalog: Catalog
    providers: dict[str, ProviderSpec]
    executor: Executor
    files: FileService
    url_ttl_seconds: int
    max_upload_bytes: int
    meter: Meter


class Pipeline:
    def __init__(self, deps: PipelineDeps) -> None:
        self.deps = deps

    async def images(self, ctx: RequestContext, req: ImageRequest) -> ImageOutcome:
        routes = self.deps.router.plan(req.model)
        canonical = routes[0].deployment.model
        self.deps.meter.check_model(ctx, req.model, routes)
        contract = self.deps.catalog.contract(canonical)
        req = contract.check(dataclasses.replace(req, model=canonical))
        ctx.model = canonical
        req = await self._load_inputs(req)
        upstream = routes[0].upstream_model
        async with self.deps.meter.hold(ctx, req, contract, upstream) as bill:
            result = await self._call(ctx, req, routes)
            outputs = await self._deliver(ctx, req, result)
            await bill.settle(req, result, outputs)
        return ImageOutcome(req, result, outputs, contract.echo_fields)

    async def _load_inputs(self, req: ImageRequest) -> ImageRequest:
        images = []
        for i, item in enumerate(req.images):
            param = "image" if len(req.images) == 1 else f"image[{i}]"
            images.append(await self._load_one(item, param))
        mask = await self._load_one(req.mask, "mask") if req.mask is not None else None
        if mask is not None and images and mask.data and images[0].data:
            _, mw, mh = await inspect_image(mask.data, "mask")
            _, iw, ih = await inspect_image(images[0].data, "image")
            if (mw, mh) != (iw, ih):
                raise InvalidParameter(
                    f"mask must have the same dimensions as the image ({iw}x{ih}), got {mw}x{mh}.",
                    param="mask",
                )
        return dataclasses.replace(req, images=tuple(images), mask=mask)

    async def _load_one(self, item: ImageInput, param: str) -> ImageInput:
        data = item.data
        if data is None and item.url is not None:
            data, _ = await self.deps.executor.fetch_image(
                item.url, param, self.deps.max_upload_bytes
            )
        if data is None:
            raise InvalidParameter(f"{param} is empty.", param=param)
        fmt, _, _ = await inspect_image(data, param)
        return ImageInput(data=data, content_type=fmt.mime, filename=item.filename)

    async def _call(
        self, ctx: RequestContext, req: ImageRequest, routes: list[Route]
    ) -> ImageResult:
        last: GatewayError | None = None
        for route in routes:
            spec = self.deps.providers[route.provider.type]
            ctx.deployment = route.name
            try:
                return await self._call_route(spec, req, route)
            except GatewayError as exc:
                if not exc.retryable:
                    raise
                last = exc
        assert last is not None
        raise last

    async def _call_route(self, spec: ProviderSpec, req: ImageRequest, route: Route) -> ImageResult:
        engine = spec.engine
        if isinstance(engine, HttpAdapter):
            upstream = engine.to_upstream(req, route)
            resp = await self.deps.executor.send(upstream, route.provider.timeouts)
            if resp.status >= 400:
                raise engine.map_error(resp, route)
            return engine.from_upstream(resp, req, route)
        if isinstance(engine, LocalEngine):
            return await engine.run(req, route)
        raise TypeError(f"provider {spec.type} has no engine")

    async def _deliver(
        self, ctx: RequestContext, req: ImageRequest, result: ImageResult
    ) -> tuple[OutputImage, ...]:
        if not result.images:
            raise UpstreamBadResponse("The upstream returned no image.")
        outputs = []
        wanted = req.output_format
        for image in result.images:
            image = await self._materialise(image, req)
            data = image.data
            assert data is not None
            fmt = image.fmt
            if wanted is not None and fmt is not wanted:
                data = await convert(data, wanted, req.output_compression)
                fmt = wanted
            ctx.images += 1
            ctx.bytes_out += len(data)
            size = Size(image.width, image.height)
            if req.response_format is ResponseFormat.URL:
                stored = await self.deps.files.store(
                    data, fmt, ctx.key_id, self.deps.url_ttl_seconds
                )
                exp = int(stored.expires_at.timestamp())
                url = ctx.base_url + self.deps.files.signed_path(stored.id, exp)
                outputs.append(OutputImage(url=url, revised_prompt=image.revised_prompt, size=size))
            else:
                b64 = base64.b64encode(data).decode("ascii")
                outputs.append(
                    OutputImage(b64_json=b64, revised_prompt=image.revised_prompt, size=size)
                )
        return tuple(outputs)

    async def _materialise(self, image: GeneratedImage, req: ImageRequest) -> GeneratedImage:
        if image.data is not None:
            return image
        if image.url is None:
            raise UpstreamBadResponse("The upstream returned an image with no data.")
        try:
            data, _ = await self.deps.executor.fetch_image(
                image.url, "upstream image", self.deps.max_upload_bytes
            )
            fmt, width, height = await inspect_image(data, "upstream image")
        except GatewayError as exc:
            raise UpstreamBadResponse(
                f"Could not use the upstream's image: {exc.message}"
            ) from None
        return dataclasses.replace(image, data=data, fmt=fmt, width=width, height=height)
