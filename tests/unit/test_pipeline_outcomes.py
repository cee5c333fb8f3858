"""The pipeline's outcome rules with an in-process test engine: text-only answers (for
clients that take them, refused on /v1/images/*) and `n` fanned out to one-image upstreams."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pixelgate.auth.api_keys import Principal
from pixelgate.billing.book import build_price_book
from pixelgate.billing.meter import Meter
from pixelgate.catalog import load_catalog
from pixelgate.core.context import RequestContext
from pixelgate.core.executor import Executor
from pixelgate.core.models import GeneratedImage, ImageFormat, ImageRequest, ImageResult, Usage
from pixelgate.core.pipeline import Pipeline, PipelineDeps
from pixelgate.core.router import Router
from pixelgate.errors import ContentPolicyError
from pixelgate.providers.base import ProviderSpec, Route
from pixelgate.settings import load_config
from pixelgate.storage.blobs import LocalBlobStore
from pixelgate.storage.db import create_engine
from pixelgate.storage.files import FileService
from tests.fakes.images import image_bytes


class Scripted:
    """A local engine answering with a fixed text, and one image per call when `draw`."""

    def __init__(self, text: str | None, draw: bool) -> None:
        self.text, self.draw, self.calls = text, draw, 0

    async def run(self, req: ImageRequest, route: Route) -> ImageResult:
        self.calls += 1
        images = tuple(
            GeneratedImage(image_bytes(8, 8), ImageFormat.PNG, 8, 8)
            for _ in range(req.n if self.draw else 0)
        )
        usage = Usage(input_tokens=2, output_tokens=10, output_image_tokens=10)
        return ImageResult(images=images, usage=usage, text=self.text)


Builder = Callable[..., Pipeline]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Builder]:
    config = tmp_path / "gw.yaml"
    config.write_text("providers: {p: {type: scripted}}\ndeployments: [{model: m, provider: p}]")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    executor = Executor()

    def build(scripted: Scripted, per_call: int | None = None) -> Pipeline:
        spec = ProviderSpec("scripted", scripted, images_per_call=per_call)
        return Pipeline(
            PipelineDeps(
                router=Router(load_config(config, frozenset({"scripted"}))),
                catalog=load_catalog(),
                providers={"scripted": spec},
                executor=executor,
                files=FileService(engine, LocalBlobStore(tmp_path / "img"), b"secret"),
                url_ttl_seconds=60,
                max_upload_bytes=1 << 20,
                meter=Meter(engine, build_price_book({}, {})),
            )
        )

    yield build
    await executor.aclose()
    await engine.dispose()


def ctx() -> RequestContext:
    context = RequestContext("req_1", "test", "/x", "http://gw")
    context.principal = Principal("key_test", "test")  # unlimited: "m" has no price
    return context


async def test_text_only_answers(make: Builder) -> None:
    pipeline = make(Scripted("4", draw=False))
    req = ImageRequest(model="m", prompt="2+2?")
    with pytest.raises(ContentPolicyError) as refused:
        await pipeline.images(ctx(), req)
    assert refused.value.error_code == "no_image_generated" and "'4'" in refused.value.message
    outcome = await pipeline.images(ctx(), dataclasses.replace(req, accept_text=True))
    assert outcome.outputs == () and outcome.result.text == "4"
    parts = [p async for p in pipeline.stream(ctx(), dataclasses.replace(req, accept_text=True))]
    assert [p.text for p in parts] == ["4"]
    with pytest.raises(ContentPolicyError):
        [p async for p in pipeline.stream(ctx(), req)]


async def test_n_is_fanned_out_and_merged(make: Builder) -> None:
    scripted = Scripted("here", draw=True)
    pipeline = make(scripted, per_call=1)
    context = ctx()
    outcome = await pipeline.images(context, ImageRequest(model="m", prompt="x", n=3))
    assert scripted.calls == 3 and len(outcome.outputs) == 3 and context.images == 3
    usage = outcome.result.usage
    assert usage is not None and (usage.input_tokens, usage.output_image_tokens) == (6, 30)
    assert outcome.result.text == "here\nhere\nhere"
