"""Images on S3-compatible object storage (moto in server mode): the store itself, and a
real gateway process with PIXELGATE_BLOB_STORE=s3 in both link modes, and expiry purge."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from pixelgate.storage.s3 import S3BlobStore, S3Settings
from tests.support.db import file_count
from tests.support.gateway import Gateway, gateway_env, run_cli, start_gateway
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Server, start_s3

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GEN = "/v1/images/generations"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


def _bucket(s3: S3Server, name: str) -> str:
    s3.create_bucket(name)
    return name


def _generate_url(gw: Gateway) -> str:
    resp = httpx.post(
        gw.base_url + GEN,
        json={
            "model": "sandbox-image",
            "prompt": "a red door",
            "size": "64x64",
            "response_format": "url",
        },
        headers=gw.headers,
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    url: str = resp.json()["data"][0]["url"]
    return url


async def test_store_put_get_delete_presign(s3: S3Server) -> None:
    bucket = _bucket(s3, "unit-store")
    store = S3BlobStore(
        S3Settings(
            bucket=bucket,
            endpoint=s3.endpoint,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            prefix="pg/",
        )
    )
    await store.put("ab/img_1.png", PNG_MAGIC + b"data", "image/png")
    assert s3.keys(bucket) == ["pg/ab/img_1.png"]
    assert s3.read(bucket, "pg/ab/img_1.png") == (PNG_MAGIC + b"data", "image/png")
    assert await store.get("ab/img_1.png") == PNG_MAGIC + b"data"
    assert await store.get("ab/missing.png") is None
    assert store.local_path("ab/img_1.png") is None
    url = await store.presign("ab/img_1.png", timedelta(minutes=5))
    assert "X-Amz-Signature=" in url and url.startswith(s3.endpoint)
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).content == PNG_MAGIC + b"data"
    await store.delete("ab/img_1.png")
    await store.delete("ab/img_1.png")  # idempotent
    assert s3.keys(bucket) == []


def test_gateway_links_serve_bytes_from_the_bucket(s3: S3Server, tmp_path: Path) -> None:
    bucket = _bucket(s3, "gateway-links")
    gw = start_gateway(tmp_path / "data", None, **s3.env(bucket))
    try:
        url = _generate_url(gw)
        assert url.startswith(gw.base_url + "/v1/files/img_")
        keys = s3.keys(bucket)
        assert len(keys) == 1 and keys[0].endswith(".png")
        stored, ctype = s3.read(bucket, keys[0])
        assert stored.startswith(PNG_MAGIC) and ctype == "image/png"
        served = httpx.get(url)
        assert served.status_code == 200
        assert served.content == stored
        assert served.headers["content-type"] == "image/png"
        # Nothing went to the local directory.
        assert not list((tmp_path / "data" / "images").rglob("*.png"))
        assert httpx.get(url.replace("sig=", "sig=x")).status_code == 403
    finally:
        gw.stop()


def test_gateway_presigned_links(s3: S3Server, tmp_path: Path) -> None:
    bucket = _bucket(s3, "presigned-links")
    gw = start_gateway(tmp_path / "data", None, **s3.env(bucket, PIXELGATE_S3_LINKS="presigned"))
    try:
        url = _generate_url(gw)
        parsed = urlparse(url)
        assert f"{parsed.scheme}://{parsed.netloc}" == s3.endpoint
        assert parsed.path.startswith(f"/{bucket}/") and "X-Amz-Signature=" in url
        fetched = httpx.get(url)
        assert fetched.status_code == 200
        (key,) = s3.keys(bucket)
        assert fetched.content == s3.read(bucket, key)[0]
    finally:
        gw.stop()


def test_expired_files_are_purged_from_the_bucket(s3: S3Server, tmp_path: Path) -> None:
    bucket = _bucket(s3, "expiry")
    config = tmp_path / "pixelgate.yaml"
    config.write_text("defaults:\n  url_ttl_seconds: 3\n")
    gw = start_gateway(
        tmp_path / "data",
        None,
        PIXELGATE_CONFIG=str(config),
        PIXELGATE_PURGE_INTERVAL_SECONDS="0.5",
        **s3.env(bucket),
    )
    try:
        url = _generate_url(gw)
        assert httpx.get(url).status_code == 200
        assert len(s3.keys(bucket)) == 1
        deadline = time.monotonic() + 15
        while (file_count(gw) or s3.keys(bucket)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert file_count(gw) == 0
        assert s3.keys(bucket) == []
        assert httpx.get(url).status_code == 403
    finally:
        gw.stop()


def test_s3_without_a_bucket_stops_the_start(tmp_path: Path) -> None:
    env = gateway_env(tmp_path / "data", None, PIXELGATE_BLOB_STORE="s3")
    done = run_cli(env, "serve", check=False)
    assert done.returncode == 2
    assert "PIXELGATE_S3_BUCKET is required" in done.stderr
