"""One gateway process for the Gemini end-to-end tests, configured against the Gemini fake
over loopback (plus the sandbox), and a small server of reference images."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.gemini import GeminiFakeState, create_app
from tests.fakes.images import image_bytes
from tests.fakes.server import serve
from tests.support.db import last_usage
from tests.support.gateway import Gateway, start_gateway

UPSTREAM_KEY = "fake-gemini-key"
BAD_KEY = "wrong-upstream-secret-0042"

CONFIG = """
routing:
  failure_threshold: 1000  # faults are injected on purpose; breakers are tested apart
providers:
  google:
    type: gemini
    base_url: {url}
    api_key: {key}
  google-v1:
    type: gemini
    base_url: {url}
    api_key: {key}
    options: {{api_version: v1}}
  google-badkey:
    type: gemini
    base_url: {url}
    api_key: {bad}
  google-slow:
    type: gemini
    base_url: {url}
    api_key: {key}
    timeouts: {{connect: 2, read: 1}}
  local:
    type: sandbox
deployments:
  - {{model: gemini-2.5-flash-image, provider: google}}
  - {{model: gemini-3-pro-image-preview, provider: google}}
  - {{model: gemini-3.1-flash-image-preview, provider: google-v1}}
  - {{model: nano-banana, provider: google, upstream_model: gemini-2.5-flash-image}}
  - {{model: nano-banana-2, provider: google, upstream_model: gemini-3.1-flash-image-preview}}
  - model: nano-banana-pro
    provider: google
    upstream_model: gemini-3-pro-image-preview
    aliases: [tokenhub/nano-banana-pro]
  - {{model: failover-image, provider: google, upstream_model: gemini-2.5-flash-image,
     priority: 0}}
  - {{model: failover-image, provider: google-v1, upstream_model: gemini-2.5-flash-image,
     priority: 1}}
  - {{model: badkey-image, provider: google-badkey, upstream_model: gemini-2.5-flash-image}}
  - {{model: slow-image, provider: google-slow, upstream_model: gemini-2.5-flash-image}}
  - model: regional-image
    provider: google
    upstream_model: gemini-3.1-flash-image-preview
    regions: [global]
    region_required: true
  - {{model: regional-image, provider: local, upstream_model: sandbox-image, regions: [cn]}}
  - {{model: local-gemini, provider: local, upstream_model: sandbox-image}}
"""


@pytest.fixture(scope="package")
def fake() -> Iterator[tuple[str, GeminiFakeState]]:
    state = GeminiFakeState()
    with serve(create_app(state)) as url:
        yield url, state


@pytest.fixture(scope="package")
def refs() -> Iterator[str]:
    """http://…/ref.png (600x300 PNG) and /ref.jpg (40x40 JPEG) for image_url references."""

    async def png(request: Request) -> Response:
        return Response(image_bytes(600, 300, "PNG"), media_type="image/png")

    async def jpg(request: Request) -> Response:
        return Response(image_bytes(40, 40, "JPEG"), media_type="image/jpeg")

    app = Starlette(routes=[Route("/ref.png", png), Route("/ref.jpg", jpg)])
    with serve(app) as url:
        yield url


@pytest.fixture(scope="package")
def gw(
    fake: tuple[str, GeminiFakeState], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("gemini-gw")
    config = data_dir / "pixelgate.yaml"
    config.write_text(CONFIG.format(url=fake[0], key=UPSTREAM_KEY, bad=BAD_KEY))
    # The reference images of these tests are served on loopback.
    gateway = start_gateway(
        data_dir,
        None,
        PIXELGATE_CONFIG=str(config),
        PIXELGATE_FETCH_ALLOW_NETWORKS="127.0.0.1/32",
    )
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def upstream(fake: tuple[str, GeminiFakeState]) -> GeminiFakeState:
    """The fake's state, reset to its defaults for each test."""
    state = fake[1]
    fresh = GeminiFakeState()
    for f in fields(GeminiFakeState):
        setattr(state, f.name, getattr(fresh, f.name))
    return state


def usage_when(gw: Gateway, matches: Callable[[Any], bool]) -> Any:
    """The last usage row once it `matches`: a stream's row is written as the stream closes,
    which may be just after the client stopped reading."""
    deadline = time.monotonic() + 5
    while not matches(row := last_usage(gw)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return row
