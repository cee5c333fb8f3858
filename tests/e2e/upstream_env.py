"""A gateway configured against the OpenAI, Azure and xAI fakes (and a second pixelgate as an
OpenAI-compatible upstream), shared by the upstream tests of one module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.fakes import azure, openai, xai
from tests.fakes.server import serve
from tests.support.gateway import Gateway, start_gateway

OPENAI_KEY = "sk-test"
AZURE_KEY = "azure-key"
XAI_KEY = "xai-test"
WRONG_KEY = "sk-wrong-Zq8yN3vT5pLw2K"  # distinctive, to prove it never leaks


@dataclass
class Upstreams:
    gw: Gateway
    hub: Gateway
    openai: openai.OpenAIFakeState
    azure: azure.AzureFakeState
    xai: xai.XaiFakeState


def _config(openai_url: str, azure_url: str, xai_url: str, hub: Gateway) -> str:
    return f"""
routing:
  failure_threshold: 1000   # these tests inject faults on purpose; breakers are tested apart
providers:
  openai-main:
    type: openai
    base_url: {openai_url}/v1
    api_key: ${{PG_TEST_OPENAI_KEY}}
  openai-wrongkey:
    type: openai
    base_url: {openai_url}/v1
    api_key: {WRONG_KEY}
  openai-impatient:
    type: openai
    base_url: {openai_url}/v1
    api_key: {OPENAI_KEY}
    timeouts: {{connect: 2, read: 0.5, total: 5}}
  azure-east:
    type: azure
    base_url: {azure_url}
    api_key: {AZURE_KEY}
    options: {{api_version: "2025-04-01-preview"}}
  grok:
    type: xai
    base_url: {xai_url}/v1
    api_key: {XAI_KEY}
  hub:
    type: openai_compatible
    base_url: {hub.base_url}/v1
    api_key: {hub.key}
    options: {{auth_header: X-API-Key, auth_scheme: ""}}
deployments:
  - {{model: gpt-image-1, provider: openai-main}}
  - {{model: gpt-image-1-mini, provider: openai-main}}
  - {{model: gpt-image-2, provider: openai-main}}
  - {{model: dall-e-2, provider: openai-main}}
  - {{model: dall-e-3, provider: openai-main}}
  - {{model: gpt-image-1.5, provider: azure-east, upstream_model: gpt-image-1.5}}
  - {{model: grok-imagine-image, provider: grok}}
  - {{model: grok-imagine-image-quality, provider: grok}}
  - {{model: broken-credentials, provider: openai-wrongkey, upstream_model: gpt-image-1}}
  - {{model: impatient, provider: openai-impatient, upstream_model: gpt-image-1}}
  - {{model: hub-sandbox, provider: hub, upstream_model: sandbox-image}}
"""


def start_upstreams(tmp: Path) -> Iterator[Upstreams]:
    with ExitStack() as stack:
        oa = openai.OpenAIFakeState(moderation_block_words={"forbidden"})
        az = azure.AzureFakeState()
        xa = xai.XaiFakeState(moderation_block_words={"forbidden"})
        oa_url = stack.enter_context(serve(openai.create_app(oa)))
        az_url = stack.enter_context(serve(azure.create_app(az)))
        xa_url = stack.enter_context(serve(xai.create_app(xa)))
        hub = start_gateway(tmp / "hub", None)
        stack.callback(hub.stop)
        config = tmp / "pixelgate.yaml"
        config.write_text(_config(oa_url, az_url, xa_url, hub))
        gw = start_gateway(
            tmp / "gw", None, PIXELGATE_CONFIG=str(config), PG_TEST_OPENAI_KEY=OPENAI_KEY
        )
        stack.callback(gw.stop)
        yield Upstreams(gw, hub, oa, az, xa)
