"""The one pipeline every image endpoint goes through.

parse (dialect) → resolve model → contract check → load input images → forward/drop fields →
reserve (billing) → route → provider → post-process (format conversion, store + sign for
url) → settle (billing) → render (dialect).
Usage logging wraps the whole call in the endpoint runner, so failures are logged too;
a failure anywhere after the reservation releases it.

Models served by a task-based upstream (BFL, Midjourney, …) are handed to the task runner
after validation: the request becomes a durable task and waits for the worker's completion
signal (see pixelgate.tasks).

`stream` is the same path for clients that take the answer part by part (chat completions,
Gemini streaming); `passthrough` forwards a native body (Gemini-native → Gemini) with the
same routing, retries and error mapping. Chat and Gemini-native clients may get a text-only
answer (`ImageRequest.accept_text`); /v1/images/* never get a 200 without an image.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import anyio

from pixelgate.billing.meter import Bill, Meter
from pixelgate.catalog import Catalog, ModelContract
from pixelgate.core import b64 as b64codec
from pixelgate.core.b64 import B64Text
from pixelgate.core.context import RequestContext
from pixelgate.core.executor import Executor, UpstreamStream
from pixelgate.core.imaging import convert, inspect_image
from pixelgate.core.models import (
    GeneratedImage,
    ImageFormat,
    ImageInput,
    ImageRequest,
    ImageResult,
    ResponseFormat,
    Size,
    Usage,
)
from pixelgate.core.native import NativeCall, NativeOutcome
from pixelgate.core.passthrough import forward_native
from pixelgate.core.router import Router
from pixelgate.core.streaming import CompletedImage, SseEvent, StreamEvent
from pixelgate.errors import (
    ContentPolicyError,
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
    TaskAdapter,
    UpstreamResponse,
)
from pixelgate.providers.capabilities import ContentStreamAdapter
from pixelgate.storage.files import FileService, StoredFile

__all__ = [
    "ImageOutcome",
    "OutputImage",
    "Pipeline",
    "PipelineDeps",
    "StreamPart",
    "TaskRunner",
]

log = logging.getLogger("pixelgate.pipeline")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OutputImage:
    # A string, or (an image passed through unchanged) still inside the upstream's answer.
    b64_json: B64Text | None = None
    url: str | None = None
    revised_prompt: str | None = None
    fmt: ImageFormat | None = None
    size: Size | None = None


@dataclass(frozen=True, slots=True)
class StreamPart:
    """A piece of a streamed answer: text and/or finished images; usage when known."""

    text: str | None = None
    outputs: tuple[OutputImage, ...] = ()
    usage: Usage | None = None


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


class TaskRunner(Protocol):
    """Runs a validated request as a durable task and waits for it (pixelgate.tasks)."""

    async def run_and_wait(
        self, ctx: RequestContext, req: ImageRequest, echo_fields: bool
    ) -> ImageOutcome: ...


def _redact(err: GatewayError, route: Route) -> GatewayError:
    """No credential of the route may reach a client, whatever the upstream echoed."""
    for secret in route.secrets:
        if secret in err.message:
            err.message = err.message.replace(secret, "***")
    return err


class Pipeline:
    def __init__(self, deps: PipelineDeps) -> None:
        self.deps = deps
        # Set once the task service exists (it needs the pipeline itself).
        self.tasks: TaskRunner | None = None

    async def images(self, ctx: RequestContext, req: ImageRequest) -> ImageOutcome:
        routes, contract, req = await self._prepare(ctx, req)
        if self.tasks is not None and self.task_based(routes):
            return await self.tasks.run_and_wait(ctx, req, contract.echo_fields)
        async with self.deps.meter.hold(ctx, req, contract, routes[0].upstream_model) as bill:
            result = await self._call(ctx, req, routes)
            outputs = await self._deliver(ctx, req, result)
            await bill.settle(req, result, outputs)
        return ImageOutcome(req, result, outputs, contract.echo_fields)

    async def open_stream(
        self, ctx: RequestContext, req: ImageRequest
    ) -> AsyncIterator[StreamEvent]:
        """Validate, then open the upstream stream; errors before the first event raise here
        (so they are ordinary error answers, and another deployment may be tried), later
        ones raise from the iterator and are never retried."""
        routes, contract, req = await self._prepare(ctx, req)
        stack = contextlib.AsyncExitStack()
        hold = self.deps.meter.hold(ctx, req, contract, routes[0].upstream_model)
        bill = await stack.enter_async_context(hold)

        async def attempt(route: Route) -> AsyncIterator[StreamEvent]:
            return await self._open_route_stream(req, route)

        try:
            events = await self.try_routes(ctx, req, routes, attempt)
        except BaseException:
            await stack.aclose()
            raise
        return _billed(events, stack, bill, req)

    async def prepare(self, ctx: RequestContext, req: ImageRequest) -> ImageRequest:
        """Resolve the model, check its contract, load input images, split the fields to
        forward: everything a request needs before any upstream call."""
        return (await self._prepare(ctx, req))[2]

    def task_based(self, routes: list[Route]) -> bool:
        """Is the model's first choice an upstream that is submitted and polled?"""
        engine = self.deps.providers[routes[0].provider.type].engine_for(routes[0])
        return isinstance(engine, TaskAdapter)

    async def _prepare(
        self, ctx: RequestContext, req: ImageRequest
    ) -> tuple[list[Route], ModelContract, ImageRequest]:
        routes = self.deps.router.plan(req.model, ctx.region)
        canonical = routes[0].deployment.model
        self.deps.meter.check_model(ctx, req.model, routes)
        contract = self.deps.catalog.contract(canonical)
        req = contract.check(dataclasses.replace(req, model=canonical))
        ctx.model = canonical
        if not self._passthrough(req, routes):
            req = await self._load_inputs(req)
        forward, dropped = contract.forward(req)
        ctx.dropped_params += [name for name in dropped if name not in ctx.dropped_params]
        return routes, contract, dataclasses.replace(req, upstream_params=forward)

    def _passthrough(self, req: ImageRequest, routes: list[Route]) -> bool:
        """Every route speaks the client's protocol: its body (image links included) goes
        upstream as it came, so the gateway fetches nothing."""
        return req.protocol is not None and all(r.provider.type == req.protocol for r in routes)

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
            return await self._call_fanned(spec, req, route)

        return await self.try_routes(ctx, req, routes, attempt)

    async def try_routes(
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
            ctx.upstream_errors.append((route.name, err.error_code))
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

    async def _call_fanned(
        self, spec: ProviderSpec, req: ImageRequest, route: Route
    ) -> ImageResult:
        """One call, or several in parallel when `n` is more than one call can make."""
        per = spec.images_per_call
        if per is None or req.n <= per:
            return await self.call_route(spec, req, route)
        counts = [per] * (req.n // per) + ([req.n % per] if req.n % per else [])
        try:
            async with asyncio.TaskGroup() as group:
                calls = [
                    group.create_task(
                        self.call_route(spec, dataclasses.replace(req, n=count), route)
                    )
                    for count in counts
                ]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return _merge([call.result() for call in calls])

    async def call_route(self, spec: ProviderSpec, req: ImageRequest, route: Route) -> ImageResult:
        engine = spec.engine_for(route)
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
        engine = self.deps.providers[route.provider.type].engine_for(route)
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
            _check_text_only(req, result.text)
            return ()
        outputs = []
        for image in result.images:
            outputs.append(await self.deliver_one(ctx, req, image))
        return tuple(outputs)

    async def deliver_one(
        self, ctx: RequestContext, req: ImageRequest, image: GeneratedImage
    ) -> OutputImage:
        """Convert if needed, then inline as base64 or store once and sign a link."""
        if req.keep_upstream_urls and image.url is not None:
            ctx.images += 1
            return OutputImage(
                url=image.url, revised_prompt=image.revised_prompt, fmt=image.fmt, size=_size(image)
            )
        wanted = req.output_format
        passthrough = image.b64 is not None and (wanted is None or image.fmt is wanted)
        if passthrough and req.response_format is ResponseFormat.B64_JSON:
            assert image.b64 is not None
            ctx.images += 1
            ctx.bytes_out += len(image.b64) * 3 // 4
            return OutputImage(
                b64_json=image.b64,
                revised_prompt=image.revised_prompt,
                fmt=image.fmt,
                size=_size(image),
            )
        if req.response_format is ResponseFormat.URL:
            stored, image = await self.store_image(ctx, req, image)
            url = await self.deps.files.link(stored, ctx.base_url)
            fmt = req.output_format or image.fmt
            return OutputImage(
                url=url, revised_prompt=image.revised_prompt, fmt=fmt, size=_size(image)
            )
        data, image = await self._encoded(req, image)
        ctx.images += 1
        ctx.bytes_out += len(data)
        b64 = b64codec.encode(data)
        fmt = req.output_format or image.fmt
        return OutputImage(
            b64_json=b64, revised_prompt=image.revised_prompt, fmt=fmt, size=_size(image)
        )

    async def store_image(
        self, ctx: RequestContext, req: ImageRequest, image: GeneratedImage
    ) -> tuple[StoredFile, GeneratedImage]:
        """Fetch or decode, convert if needed, and store once in the file store."""
        data, image = await self._encoded(req, image)
        ctx.images += 1
        ctx.bytes_out += len(data)
        fmt = req.output_format or image.fmt
        ttl = self.deps.url_ttl_seconds
        stored = await self.deps.files.store(data, fmt, ctx.key_id, ttl, ctx.request_id)
        return stored, image

    async def _encoded(
        self, req: ImageRequest, image: GeneratedImage
    ) -> tuple[bytes, GeneratedImage]:
        image = await self._materialise(image)
        data = image.data
        assert data is not None
        wanted = req.output_format
        if wanted is not None and image.fmt is not wanted:
            data = await convert(data, wanted, req.output_compression)
        return data, image

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

    async def stream(
        self, ctx: RequestContext, req: ImageRequest
    ) -> AsyncGenerator[StreamPart, None]:
        """The answer part by part. Upstreams that stream (ContentStreamAdapter) are streamed;
        others answer in one part. Another route is tried only before the first part."""
        routes, contract, req = await self._prepare(ctx, req)
        upstream = routes[0].upstream_model
        async with self.deps.meter.hold(ctx, req, contract, upstream) as bill:
            parts: list[ImageResult] = []
            delivered: list[OutputImage] = []
            texts: list[str] = []
            async with contextlib.aclosing(self._stream_results(ctx, req, routes)) as results:
                async for result in results:
                    outputs = tuple(
                        [await self.deliver_one(ctx, req, image) for image in result.images]
                    )
                    parts.append(result)
                    delivered += outputs
                    texts += [result.text] if result.text else []
                    yield StreamPart(result.text, outputs, result.usage)
            if not delivered:
                _check_text_only(req, "".join(texts) or None)
            await bill.settle(req, _merge(parts) if parts else ImageResult(()), delivered)

    async def _stream_results(
        self, ctx: RequestContext, req: ImageRequest, routes: list[Route]
    ) -> AsyncGenerator[ImageResult, None]:
        """Through the same route loop as every call (breakers, credential pools, deadline):
        a route counts as answering once its first part arrived; later failures are final."""

        async def attempt(route: Route) -> tuple[ImageResult, AsyncGenerator[ImageResult, None]]:
            spec = self.deps.providers[route.provider.type]
            engine = spec.engine_for(route)
            streams = isinstance(engine, ContentStreamAdapter) and req.n == 1
            if not (streams and isinstance(engine, HttpAdapter)):
                return await self._call_fanned(spec, req, route), _no_parts()
            assert isinstance(engine, ContentStreamAdapter)
            upstream = engine.content_stream_request(req, route)
            opened = await self.deps.executor.open_stream(upstream, route.timeouts)
            if isinstance(opened, UpstreamResponse):
                raise engine.map_error(opened, route)
            parts = _content_parts(engine, opened.events(), req, route)
            try:
                return await anext(parts), parts
            except StopAsyncIteration:
                return ImageResult(()), _no_parts()
            except BaseException:
                await parts.aclose()
                raise

        first, rest = await self.try_routes(ctx, req, routes, attempt)
        yield first
        async with contextlib.aclosing(rest) as parts:
            async for result in parts:
                yield result

    async def passthrough(
        self, ctx: RequestContext, model: str, call: NativeCall, req: ImageRequest
    ) -> NativeOutcome | None:
        """Forward `call.body` unchanged when the model's first route speaks `call.protocol`
        (billed like any request; see core.passthrough); None for the canonical path."""
        return await forward_native(self, ctx, model, call, req)


async def _no_parts() -> AsyncGenerator[ImageResult, None]:
    return
    yield  # an async generator with nothing in it


async def _content_parts(
    engine: ContentStreamAdapter,
    events: AsyncGenerator[SseEvent, None],
    req: ImageRequest,
    route: Route,
) -> AsyncGenerator[ImageResult, None]:
    async with contextlib.aclosing(events) as stream:
        async for event in stream:
            result = engine.parse_content_event(event, req, route)
            if result is not None:
                yield result


async def _billed(
    events: AsyncIterator[StreamEvent],
    stack: contextlib.AsyncExitStack,
    bill: Bill,
    req: ImageRequest,
) -> AsyncIterator[StreamEvent]:
    """Relay a stream; charge its completed images at the end, release if it breaks off."""
    images: list[GeneratedImage] = []
    usages: list[ImageResult] = []
    try:
        async for event in events:
            if isinstance(event, CompletedImage):
                images.append(event.image)
                usages.append(ImageResult((), usage=event.usage))
            yield event
        merged = _merge(usages) if usages else ImageResult(())
        result = dataclasses.replace(merged, images=tuple(images))
        await bill.settle(req, result, [OutputImage(size=_size(i)) for i in images])
    finally:
        await stack.aclose()


def _size(image: GeneratedImage) -> Size | None:
    return Size(image.width, image.height) if image.width and image.height else None


def _check_text_only(req: ImageRequest, text: str | None) -> None:
    """An answer without an image: fine for clients that take text, an error otherwise."""
    if text and req.accept_text:
        return
    if text:
        preview = text if len(text) <= 200 else text[:199] + "…"
        raise ContentPolicyError(
            f"The model answered in text and made no image: {preview!r}",
            code="no_image_generated",
        )
    raise UpstreamBadResponse("The upstream returned no image.")


def _merge(results: list[ImageResult]) -> ImageResult:
    """Results of a fanned-out `n`: images in order, usage summed."""
    usages = [r.usage for r in results if r.usage is not None]
    usage = None
    if usages:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(Usage):
            items = [getattr(u, f.name) for u in usages if getattr(u, f.name) is not None]
            values[f.name] = sum(items) if items else None
        usage = Usage(**values)
    texts = [r.text for r in results if r.text]
    images = tuple(image for r in results for image in r.images)
    return dataclasses.replace(
        results[0], images=images, usage=usage, text="\n".join(texts) or None
    )
