"""Same-protocol passthrough (a Gemini-native body to a Gemini deployment): the client's body
goes upstream unchanged and the upstream's answer comes back unchanged, with the routing,
error mapping, usage logging and billing every other request gets — the worst case is
reserved first, and the images actually in the answer are charged at the end."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

from pixelgate.billing.meter import Bill
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, ImageResult
from pixelgate.core.native import NativeCall, NativeOutcome
from pixelgate.core.streaming import SseEvent
from pixelgate.errors import GatewayError
from pixelgate.providers.base import HttpAdapter, Route, UpstreamResponse
from pixelgate.providers.capabilities import NativePassthrough

if TYPE_CHECKING:
    from pixelgate.core.pipeline import OutputImage, Pipeline

__all__ = ["forward_native"]


def _speaks(pipeline: Pipeline, route: Route, protocol: str) -> bool:
    engine = pipeline.deps.providers[route.provider.type].engine_for(route)
    return (
        isinstance(engine, NativePassthrough)
        and isinstance(engine, HttpAdapter)
        and engine.protocol == protocol
    )


def _outputs(count: int) -> list[OutputImage]:
    from pixelgate.core.pipeline import OutputImage

    return [OutputImage() for _ in range(count)]


async def forward_native(
    pipeline: Pipeline, ctx: RequestContext, model: str, call: NativeCall, req: ImageRequest
) -> NativeOutcome | None:
    deps = pipeline.deps
    routes = deps.router.plan(model, ctx.region)
    native = [r for r in routes if _speaks(pipeline, r, call.protocol)]
    if not native or native[0] is not routes[0]:
        return None
    canonical = routes[0].deployment.model
    ctx.model = canonical
    deps.meter.check_model(ctx, model, routes)
    req = dataclasses.replace(req, model=canonical)
    contract = deps.catalog.contract(canonical)
    stack = contextlib.AsyncExitStack()
    bill = await stack.enter_async_context(
        deps.meter.hold(ctx, req, contract, routes[0].upstream_model)
    )
    try:
        outcome = await _forward(pipeline, ctx, call, req, native, bill, stack)
    except BaseException:
        await stack.aclose()
        raise
    if outcome.events is None:
        await stack.aclose()
    return outcome


async def _forward(
    pipeline: Pipeline,
    ctx: RequestContext,
    call: NativeCall,
    req: ImageRequest,
    routes: list[Route],
    bill: Bill,
    stack: contextlib.AsyncExitStack,
) -> NativeOutcome:
    """Through the pipeline's route loop, so breakers, credential pools and the deadline
    apply to passthrough as to every other call."""
    deps = pipeline.deps

    async def attempt(route: Route) -> NativeOutcome:
        engine = deps.providers[route.provider.type].engine_for(route)
        assert isinstance(engine, NativePassthrough) and isinstance(engine, HttpAdapter)
        upstream = engine.passthrough_request(call, route)
        if call.stream and call.sse:
            opened = await deps.executor.open_stream(upstream, route.timeouts)
            if isinstance(opened, UpstreamResponse):
                raise engine.map_error(opened, route)
            return NativeOutcome(events=_counted(ctx, engine, opened.events(), bill, req, stack))
        resp = await deps.executor.send(upstream, route.timeouts)
        if resp.status >= 400:
            raise engine.map_error(resp, route)
        count = engine.count_images(resp.body)
        ctx.images += count
        ctx.bytes_out += len(resp.body)
        await bill.settle(req, _usage_of(engine, resp, req, route), _outputs(count))
        return NativeOutcome(body=resp.body)

    return await pipeline.try_routes(ctx, req, routes, attempt)


def _usage_of(
    engine: HttpAdapter, resp: UpstreamResponse, req: ImageRequest, route: Route
) -> ImageResult:
    """The answer's usage for token prices (a blocked answer has none and costs nothing)."""
    try:
        parsed = engine.from_upstream(resp, req, route)
    except GatewayError:
        return ImageResult(())
    return ImageResult((), usage=parsed.usage, size=parsed.size)


async def _counted(
    ctx: RequestContext,
    engine: NativePassthrough,
    events: AsyncGenerator[SseEvent, None],
    bill: Bill,
    req: ImageRequest,
    stack: contextlib.AsyncExitStack,
) -> AsyncIterator[str]:
    count = 0
    try:
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                images = engine.count_images(event.data)
                count += images
                ctx.images += images
                ctx.bytes_out += len(event.data)
                yield event.data
        await bill.settle(req, ImageResult(()), _outputs(count))
    finally:
        await stack.aclose()
