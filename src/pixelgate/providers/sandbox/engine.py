"""Sandbox engine: renders each image off the event loop.

Two provider options make it misbehave on purpose, so that clients (and the gateway's own
tests) can see how failures are answered and billed without a real upstream:

- `fail: <code>` — every request fails as an upstream would: upstream_error,
  upstream_unavailable, upstream_timeout, upstream_bad_response or content_policy_violation.
- `max_images: N` — return at most N images whatever `n` asked for (0 = an empty answer),
  like an upstream that drops some.
"""

from __future__ import annotations

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
from pixelgate.errors import (
    ContentPolicyError,
    GatewayError,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pixelgate.providers.base import Route
from pixelgate.providers.sandbox.render import RenderSpec, render

__all__ = ["SandboxEngine"]

DEFAULT_SIZE = Size(1024, 1024)
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
        sources = tuple(i.data for i in req.images if i.data is not None)
        mask = req.mask.data if req.mask is not None else None
        images = []
        count = min(req.n, int(route.provider.options.get("max_images", req.n)))
        for index in range(count):
            spec = RenderSpec(
                prompt=req.prompt,
                seed=req.seed,
                size=req.size,
                fmt=fmt,
                compression=req.output_compression,
                transparent=req.background == "transparent",
                edit=req.operation in (Operation.EDIT, Operation.IMAGE_TO_IMAGE),
                sources=sources,
                mask=mask,
                index=index,
            )
            data, width, height = await anyio.to_thread.run_sync(render, spec)
            images.append(GeneratedImage(data=data, fmt=fmt, width=width, height=height))
        if not images:
            return ImageResult(images=())
        first = images[0]
        prompt_tokens = max(1, len(req.prompt) // 4)
        return ImageResult(
            images=tuple(images),
            usage=Usage(
                input_tokens=prompt_tokens,
                input_text_tokens=prompt_tokens,
                output_tokens=0,
            ),
            size=Size(first.width, first.height),
            quality="high" if req.quality in (None, "auto") else req.quality,
            background="transparent" if req.background == "transparent" else "opaque",
            output_format=fmt,
        )
