"""Back-pressure end to end: a gateway whose answer budget is smaller than one answer still
serves many concurrent requests (each proceeds alone, none waits forever), and clients
that give up while their answers wait leave nothing held. No timing assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import orjson
import pytest

from bench.fake_upstream import FakeUpstream
from tests.fakes.server import serve
from tests.support.gateway import Gateway, start_gateway

# Larger than the whole budget below, so every answer must wait for the one before it.
B64_BYTES = 1_500_000
BUDGET = 1024 * 1024
BODY = {"model": "gpt-image-1", "prompt": "a lighthouse", "size": "1024x1024"}


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeUpstream, str]]:
    app = FakeUpstream(b64_bytes=B64_BYTES, delay=0.3)
    with serve(app) as url:
        yield app, url


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, fake: tuple[FakeUpstream, str]
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("budget")
    config = tmp / "pixelgate.yaml"
    config.write_text(
        "providers:\n  fake: {type: openai_compatible, "
        f"base_url: '{fake[1]}/v1', api_key: sk-bench}}\n"
        "deployments:\n  - {model: gpt-image-1, provider: fake}\n"
    )
    gateway = start_gateway(
        tmp / "data", None, PIXELGATE_CONFIG=str(config), PIXELGATE_ANSWER_MEMORY_BYTES=str(BUDGET)
    )
    yield gateway
    gateway.stop()


async def _generate(client: httpx.AsyncClient, gw: Gateway) -> tuple[int, int]:
    resp = await client.post("/v1/images/generations", json=BODY, headers=gw.headers)
    if resp.status_code != 200:
        return resp.status_code, 0
    return 200, len(orjson.loads(resp.content)["data"][0]["b64_json"])


async def _many(gw: Gateway, count: int) -> list[tuple[int, int]]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=120, limits=limits) as client:
        return await asyncio.gather(*(_generate(client, gw) for _ in range(count)))


async def _give_up(gw: Gateway, count: int) -> None:
    """Clients that hang up while the upstream (or the budget) still holds their answer."""
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=0.1) as client:
        calls = [_generate(client, gw) for _ in range(count)]
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, httpx.TimeoutException | tuple) for r in results), results


async def test_concurrent_answers_larger_than_the_budget_all_succeed(
    gw: Gateway, fake: tuple[FakeUpstream, str]
) -> None:
    expected = len(orjson.loads(fake[0].body)["data"][0]["b64_json"])
    assert expected > BUDGET
    results = await _many(gw, 24)
    assert results == [(200, expected)] * 24


async def test_clients_that_give_up_leave_nothing_held(gw: Gateway) -> None:
    await _give_up(gw, 8)
    # Were a lease of those requests never released, these would wait forever.
    results = await _many(gw, 8)
    assert all(status == 200 for status, _ in results), results
