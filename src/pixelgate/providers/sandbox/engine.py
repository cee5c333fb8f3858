"""Sandbox engine: renders each image off the event loop.

Two provider options make it misbehave on purpose, so that clients (and the gateway's own
tests) can see how failures are answered and billed without a real upstream:

- `fail: <code>` — every request fails as an upstream would: upstream_error,
  upstream_unavailable, upstream_timeout, upstream_bad_response or content_policy_violation.
- `max_images: N` — return at most N images whatever `n` asked for (0 = an empty answer),
  like an upstream that drops some.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import anyio

from pixelgate.core.models import (
    GeneratedImage,
    ImageFormat,
    ImageRequest,
    ImageResult,
    Operation,
    Size,
    Usage,
)
from pixelgate.core.streaming import CompletedImage, PartialImage, StreamEvent
from pixelgate.errors import (
    ContentPolicyError,
    GatewayError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixelgate.providers.base import Route
from pixelgate.providers.sandbox.render import RenderSpec, coarse_preview, render

__all__ = ["SandboxEngine"]


# Long edge in pixels per resolution tier (Gemini-style "1K", xAI-style "1k").
_TIERS = {"0.5k": 512, "1k": 1024, "2k": 2048, "4k": 4096}


def _geometry(req: ImageRequest) -> Size | None:
    """`aspect_ratio` / `resolution`, when given, decide the size (1:1 and 1K by default)."""
    if req.aspect_ratio is None and req.resolution is None:
        return req.size
    edge = _TIERS.get((req.resolution or "1k").lower(), 1024)
    w, _, h = (req.aspect_ratio or "1:1").partition(":")
    rw, rh = float(w), float(h)
    if rw >= rh:
        return Size(edge, max(16, round(edge * rh / rw)))
    return Size(max(16, round(edge * rw / rh)), edge)


def _spec(req: ImageRequest, index: int) -> RenderSpec:
    return RenderSpec(
        prompt=req.prompt,
        seed=req.seed,
        size=_geometry(req),
        fmt=req.output_format or ImageFormat.PNG,
        compression=req.output_compression,
        transparent=req.background == "transparent",
        edit=req.operation in (Operation.EDIT, Operation.IMAGE_TO_IMAGE, Operation.VARIATION),
        sources=tuple(i.data for i in req.images if i.data is not None),
        mask=req.mask.data if req.mask is not None else None,
        index=index,
    )


def _usage(req: ImageRequest) -> Usage:
    prompt_tokens = max(1, len(req.prompt) // 4)
    return Usage(input_tokens=prompt_tokens, input_text_tokens=prompt_tokens)


FAULTS: dict[str, type[GatewayError]] = {
    e.code: e
    for e in (
        UpstreamError,
        UpstreamUnavailable,
        UpstreamTimeout,
        UpstreamBadResponse,
        ContentPolicyError,
    )
}


def _injected_fault(route: Route) -> GatewayError | None:
    fail = route.provider.options.get("fail")
    if fail is None:
        return None
    error = FAULTS.get(str(fail))
    if error is None:
        return GatewayError(f"sandbox option fail={fail!r} is not one of {', '.join(FAULTS)}.")
    return error(f"sandbox fault injection: {fail}.")


class SandboxEngine:
    async def run(self, req: ImageRequest, route: Route) -> ImageResult:
        fault = _injected_fault(route)
        if fault is not None:
            raise fault
        fmt = req.output_format or ImageFormat.PNG
        images = []
        count = min(req.n, int(route.provider.options.get("max_images", req.n)))
        for index in range(count):
            data, width, height = await anyio.to_thread.run_sync(render, _spec(req, index))
            images.append(GeneratedImage(data=data, fmt=fmt, width=width, height=height))
        if not images:
            return ImageResult(images=())
        first = images[0]
        return ImageResult(
            images=tuple(images),
            usage=_usage(req),
            size=Size(first.width, first.height),
            quality="high" if req.quality in (None, "auto") else req.quality,
            background="transparent" if req.background == "transparent" else "opaque",
            output_format=fmt,
        )

    async def stream(self, req: ImageRequest, route: Route) -> AsyncIterator[StreamEvent]:
        """Each image's partials (coarse previews of the final picture), then the image."""
        fmt = req.output_format or ImageFormat.PNG
        for index in range(req.n):
            spec = _spec(req, index)
            data, width, height = await anyio.to_thread.run_sync(render, spec)
            for step in range(req.partial_images or 0):
                preview = await anyio.to_thread.run_sync(
                    coarse_preview, data, fmt, step, req.partial_images or 0
                )
                yield PartialImage(base64.b64encode(preview).decode("ascii"), step, index)
            yield CompletedImage(
                image=GeneratedImage(data=data, fmt=fmt, width=width, height=height),
                usage=_usage(req) if index == 0 else None,
                size=f"{width}x{height}",
                quality="high" if req.quality in (None, "auto") else req.quality,
                background="transparent" if req.background == "transparent" else "opaque",
                output_format=fmt,
                image_index=index,
            )
