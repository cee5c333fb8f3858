"""Sandbox engine: renders each image off the event loop."""

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
from pixelgate.providers.base import Route
from pixelgate.providers.sandbox.render import RenderSpec, render

__all__ = ["SandboxEngine"]

DEFAULT_SIZE = Size(1024, 1024)


class SandboxEngine:
    async def run(self, req: ImageRequest, route: Route) -> ImageResult:
        fmt = req.output_format or ImageFormat.PNG
        sources = tuple(i.data for i in req.images if i.data is not None)
        mask = req.mask.data if req.mask is not None else None
        images = []
        for index in range(req.n):
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
