"""The test machine's Redis (127.0.0.1:6379 unless PIXELGATE_TEST_REDIS_URL says otherwise).

Every test works under its own key prefix and removes its keys afterwards, so tests never
see each other's counters or messages. Tests that need Redis fail, rather than skip, when
it cannot be reached.
"""

from __future__ import annotations

import asyncio
import os
import secrets

from pydantic import SecretStr
from redis.asyncio import Redis

from pixelgate.scale.redis_client import redis_client

__all__ = ["REDIS_URL", "client", "drop_prefix", "drop_prefix_sync", "keys_under", "unique_prefix"]

REDIS_URL = os.environ.get("PIXELGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_prefix() -> str:
    return f"pgtest:{secrets.token_hex(6)}:"


def client(name: str | None = None) -> Redis:
    """A client as the gateway makes it (its own connection pool: "another process")."""
    redis = redis_client(SecretStr(REDIS_URL))
    if name is not None:
        redis.connection_pool.connection_kwargs["client_name"] = name
    return redis


async def keys_under(prefix: str) -> list[bytes]:
    redis = client()
    try:
        return [key async for key in redis.scan_iter(match=prefix + "*")]
    finally:
        await redis.aclose()


async def drop_prefix(prefix: str) -> None:
    redis = client()
    try:
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def drop_prefix_sync(prefix: str) -> None:
    asyncio.run(drop_prefix(prefix))
