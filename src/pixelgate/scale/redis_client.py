"""The process's one Redis client (a connection pool shared by the limiter and the
broadcast)."""

from __future__ import annotations

from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError

__all__ = ["REDIS_ERRORS", "TIMEOUT_SECONDS", "redis_client"]

# Connecting to and answering from a Redis on the same network takes milliseconds; a call
# that has not connected or answered after this long fails (a rate-limit check then answers
# the request 503 rather than hold it).
TIMEOUT_SECONDS = 2.0

# What a Redis call raises when the server cannot be reached or does not answer in time
# (redis-py's own errors, and OSError / TimeoutError from the socket layer).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def redis_client(url: SecretStr) -> Redis:
    """A client for `url` (redis://, rediss:// or unix://). No connection is opened here.

    A call is retried once, at once, only when its connection broke (a pooled connection
    left over from before a Redis restart); never after a timeout, when the command may
    have run, so a request is never counted twice."""
    return Redis.from_url(
        url.get_secret_value(),
        socket_connect_timeout=TIMEOUT_SECONDS,
        socket_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(ConnectionError,)),
        decode_responses=False,
    )
