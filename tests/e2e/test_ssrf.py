"""SSRF-safe fetching of client-supplied URLs (issue 8 item 3): internal addresses are
refused — directly, by DNS name, and through a redirect — unless allow-listed."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pixelgate.core.safe_fetch import FetchPolicy, check_address
from tests.fakes.images import image_bytes
from tests.fakes.server import serve
from tests.support.gateway import Gateway, start_gateway


@dataclass
class Origin:
    hits: list[str] = field(default_factory=list)


def origin_app(origin: Origin, redirect_to: str = "") -> Starlette:
    async def photo(request: Request) -> Response:
        origin.hits.append(request.url.path)
        return Response(image_bytes(48, 32, "JPEG"), media_type="image/jpeg")

    async def bounce(request: Request) -> Response:
        origin.hits.append(request.url.path)
        return RedirectResponse(redirect_to, status_code=302)

    return Starlette(routes=[Route("/photo.jpg", photo), Route("/bounce", bounce)])


@dataclass
class Env:
    gw: Gateway
    allowed: str  # origin on 127.0.0.2, allow-listed
    internal: str  # origin on 127.0.0.1, not allow-listed
    allowed_hits: Origin
    internal_hits: Origin


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("ssrf")
    with ExitStack() as stack:
        internal_hits, allowed_hits = Origin(), Origin()
        internal = stack.enter_context(serve(origin_app(internal_hits)))
        allowed = stack.enter_context(
            serve(origin_app(allowed_hits, internal + "/photo.jpg"), host="127.0.0.2")
        )
        config = tmp / "pixelgate.yaml"
        config.write_text("fetch:\n  allow_networks: ['127.0.0.2/32']\n")
        gw = start_gateway(tmp / "gw", None, PIXELGATE_CONFIG=str(config))
        stack.callback(gw.stop)
        yield Env(gw, allowed, internal, allowed_hits, internal_hits)


def edit(env: Env, url: str) -> httpx.Response:
    body = {"model": "sandbox-image", "prompt": "x", "images": [{"image_url": url}]}
    return httpx.post(
        env.gw.base_url + "/v1/images/edits", json=body, headers=env.gw.headers, timeout=30
    )


def test_allow_listed_network_is_fetched(env: Env) -> None:
    resp = edit(env, env.allowed + "/photo.jpg")
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(base64.b64decode(resp.json()["data"][0]["b64_json"])))
    assert img.size == (48, 32)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/photo.jpg",
        "http://localhost:{port}/photo.jpg",  # a DNS name resolving to loopback
        "http://[::1]:{port}/photo.jpg",
        "http://[::ffff:127.0.0.1]:{port}/photo.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/photo.jpg",
        "http://192.168.0.10/photo.jpg",
        "http://0.0.0.0:{port}/photo.jpg",
        "ftp://127.0.0.1/photo.jpg",
        "file:///etc/passwd",
    ],
)
def test_internal_addresses_are_refused(env: Env, url: str) -> None:
    port = env.internal.rsplit(":", 1)[1]
    before = len(env.internal_hits.hits)
    resp = edit(env, url.format(port=port))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == "images[0]"
    assert len(env.internal_hits.hits) == before


def test_redirect_into_an_internal_address_is_refused(env: Env) -> None:
    before_allowed = len(env.allowed_hits.hits)
    before_internal = len(env.internal_hits.hits)
    resp = edit(env, env.allowed + "/bounce")
    assert resp.status_code == 400, resp.text
    assert "not public" in resp.json()["error"]["message"]
    assert len(env.allowed_hits.hits) == before_allowed + 1
    assert len(env.internal_hits.hits) == before_internal


def test_address_rules() -> None:
    import ipaddress

    policy = FetchPolicy()
    for ip in ("8.8.8.8", "2606:4700:4700::1111", "93.184.216.34"):
        assert check_address(ipaddress.ip_address(ip), policy)
    for ip in (
        "127.0.0.1",
        "::1",
        "169.254.169.254",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "224.0.0.1",
        "0.0.0.0",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:10.0.0.1",
    ):
        assert not check_address(ipaddress.ip_address(ip), policy), ip
    allow = FetchPolicy.from_strings(["10.0.0.0/8"], 1)
    assert check_address(ipaddress.ip_address("10.9.9.9"), allow)
