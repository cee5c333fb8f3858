"""The one pipeline every image endpoint goes through.

parse (dialect) → resolve model → contract check → load input images → forward/drop fields →
route → provider → post-process (format conversion, store + sign for url) → render (dialect).
Usage logging wraps the whole call in the endpoint runner, so failures are logged too.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from pixelgate.catalog import Catalog, ModelContract
from pixelgate.core import b64 as b64codec
from pixelgate.core.context import RequestContext
from pixelgate.core.executor import Executor, UpstreamStream
from pixelgate.core.imaging import convert, inspect_image
from pixelgate.core.models import (
    GeneratedImage,
    ImageInput,
    ImageRequest,
    ImageResult,
    ResponseFormat,
)
from pixelgate.core.router import Router
from pixelgate.core.streaming import StreamEvent
from pixelgate.errors import (
    GatewayError,
    InvalidParameter,
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixelgate.providers.base import (
    HttpAdapter,
    LocalEngine,
    ProviderSpec,
    Route,
    StreamingAdapter,
    StreamingEngine,
)
from pixelgate.storage.files import FileService

__all__ = ["ImageOutcome", "OutputImage", "Pipeline", "PipelineDeps"]

log = logging.getLogger("pixelgate.pipeline")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutputImage:
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


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


def _redact(err: GatewayError, route: Route) -> GatewayError:
    """No credential of the route may reach a client, whatever the upstream echoed."""
    for secret in route.secrets:
        if secret in err.message:
            err.message = err.message.replace(secret, "***")
    return err


class Pipeline:
    def __init__(self, deps: PipelineDeps) -> None:
        self.deps = deps

    async def images(self, ctx: RequestContext, req: ImageRequest) -> ImageOutcome:
        routes, contract, req = await self._prepare(ctx, req)
        result = await self._call(ctx, req, routes)
        outputs = await self._deliver(ctx, req, result)
        return ImageOutcome(req, result, outputs, contract.echo_fields)

    async def open_stream(
        self, ctx: RequestContext, req: ImageRequest
    ) -> AsyncIterator[StreamEvent]:
        """Validate, then open the upstream stream; errors before the first event raise here
        (so they are ordinary error answers, and another deployment may be tried), later
        ones raise from the iterator and are never retried."""
        routes, _, req = await self._prepare(ctx, req)

        async def attempt(route: Route) -> AsyncIterator[StreamEvent]:
            return await self._open_route_stream(req, route)

        return await self._try_routes(ctx, req, routes, attempt)

    async def _prepare(
        self, ctx: RequestContext, req: ImageRequest
    ) -> tuple[list[Route], ModelContract, ImageRequest]:
        routes = self.deps.router.plan(req.model)
        canonical = routes[0].deployment.model
        contract = self.deps.catalog.contract(canonical)
        req = contract.check(dataclasses.replace(req, model=canonical))
        ctx.model = canonical
        req = await self._load_inputs(req)
        forward, dropped = contract.forward(req)
        ctx.dropped_params = dropped
        return routes, contract, dataclasses.replace(req, upstream_params=forward)

    async def _load_inputs(self, req: ImageRequest) -> ImageRequest:
        images = []
        for i, item in enumerate(req.images):
            param = item.param or ("image" if len(req.images) == 1 else f"image[{i}]")
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
            data, _ = await self.deps.executor.fetch_client_url(item.url, param)
        if data is None:
            raise InvalidParameter(f"{param} is empty.", param=param)
        fmt, _, _ = await inspect_image(data, param)
        return ImageInput(data=data, content_type=fmt.mime, filename=item.filename, param=param)

    def _note_failure(self, exc: GatewayError, route: Route) -> GatewayError:
        exc = _redact(exc, route)
        if isinstance(exc, UpstreamAuthError):
            log.warning("deployment %s: upstream refused its credentials", route.name)
        return exc

    async def _call(
        self, ctx: RequestContext, req: ImageRequest, routes: list[Route]
    ) -> ImageResult:
        async def attempt(route: Route) -> ImageResult:
            spec = self.deps.providers[route.provider.type]
            return await self._call_route(spec, req, route)

        return await self._try_routes(ctx, req, routes, attempt)

    async def _try_routes(
        self,
        ctx: RequestContext,
        req: ImageRequest,
        routes: list[Route],
        attempt: Callable[[Route], Awaitable[T]],
    ) -> T:
        """Try the routes in order until one succeeds or an error is not retryable, within
        the request deadline and each deployment's total timeout."""
        router = self.deps.router
        deadline = time.monotonic() + router.deadline_seconds
        queue = list(routes)
        last: GatewayError | None = None
        while queue:
            route = router.acquire(queue.pop(0))
            if route is None:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                router.released(route)
                break
            ctx.deployment = route.name
            try:
                with anyio.fail_after(min(route.timeouts.total, remaining)):
                    value = await attempt(route)
            except TimeoutError:
                err: GatewayError = UpstreamTimeout(
                    f"The upstream of {route.name} did not finish in time."
                )
            except GatewayError as exc:
                err = exc
            except BaseException:
                router.released(route)
                raise
            else:
                router.succeeded(route)
                return value
            err = self._note_failure(err, route)
            router.failed(route, err)
            if not err.retryable:
                raise err
            last = err
            if isinstance(err, UpstreamAuthError):
                again = router.another_credential(route)
                if again is not None:
                    queue.insert(0, again)
        if last is not None:
            raise last
        raise UpstreamUnavailable(
            f"Every deployment of {req.model!r} is failing right now; try again shortly.",
            retry_after=router.cooldown_seconds,
        )

    async def _call_route(self, spec: ProviderSpec, req: ImageRequest, route: Route) -> ImageResult:
        engine = spec.engine
        if isinstance(engine, HttpAdapter):
            upstream = engine.to_upstream(req, route)
            resp = await self.deps.executor.send(upstream, route.timeouts)
            if resp.status >= 400:
                raise engine.map_error(resp, route)
            return engine.from_upstream(resp, req, route)
        if isinstance(engine, LocalEngine):
            return await engine.run(req, route)
        raise TypeError(f"provider {spec.type} has no engine")

    async def _open_route_stream(
        self, req: ImageRequest, route: Route
    ) -> AsyncIterator[StreamEvent]:
        engine = self.deps.providers[route.provider.type].engine
        if isinstance(engine, StreamingEngine):
            return engine.stream(req, route)
        if not isinstance(engine, StreamingAdapter) or not isinstance(engine, HttpAdapter):
            raise InvalidParameter(f"{route.name} cannot stream.", param="stream")
        opened = await self.deps.executor.open_stream(
            engine.stream_request(req, route), route.timeouts
        )
        if not isinstance(opened, UpstreamStream):
            raise engine.map_error(opened, route)
        return self._relay(engine, opened, req, route)

    async def _relay(
        self, adapter: StreamingAdapter, stream: UpstreamStream, req: ImageRequest, route: Route
    ) -> AsyncIterator[StreamEvent]:
        try:
            async for sse in stream.events():
                for event in adapter.parse_event(sse, req, route):
                    yield event
        except GatewayError as exc:
            raise _redact(exc, route) from None
        finally:
            await stream.aclose()

    async def _deliver(
        self, ctx: RequestContext, req: ImageRequest, result: ImageResult
    ) -> tuple[OutputImage, ...]:
        if not result.images:
            raise UpstreamBadResponse("The upstream returned no image.")
        outputs = []
        for image in result.images:
            outputs.append(await self.deliver_one(ctx, req, image))
        return tuple(outputs)

    async def deliver_one(
        self, ctx: RequestContext, req: ImageRequest, image: GeneratedImage
    ) -> OutputImage:
        """Convert if needed, then inline as base64 or store once and sign a link."""
        wanted = req.output_format
        passthrough = image.b64 is not None and (wanted is None or image.fmt is wanted)
        if passthrough and req.response_format is ResponseFormat.B64_JSON:
            assert image.b64 is not None
            ctx.images += 1
            ctx.bytes_out += len(image.b64) * 3 // 4
            return OutputImage(b64_json=image.b64, revised_prompt=image.revised_prompt)
        image = await self._materialise(image)
        data = image.data
        assert data is not None
        fmt = image.fmt
        if wanted is not None and fmt is not wanted:
            data = await convert(data, wanted, req.output_compression)
            fmt = wanted
        ctx.images += 1
        ctx.bytes_out += len(data)
        if req.response_format is ResponseFormat.URL:
            ttl = self.deps.url_ttl_seconds
            stored = await self.deps.files.store(data, fmt, ctx.key_id, ttl)
            url = await self.deps.files.link(stored, ctx.base_url)
            return OutputImage(url=url, revised_prompt=image.revised_prompt)
        b64 = b64codec.encode(data)
        return OutputImage(b64_json=b64, revised_prompt=image.revised_prompt)

    async def _materialise(self, image: GeneratedImage) -> GeneratedImage:
        """Bytes for an image given as base64 or as a (short-lived) upstream URL."""
        if image.data is not None:
            return image
        if image.b64 is not None:
            try:
                data = b64codec.decode(image.b64)
            except ValueError:
                raise UpstreamBadResponse("The upstream sent invalid base64.") from None
            return dataclasses.replace(image, data=data)
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
