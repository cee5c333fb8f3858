"""Who may call at all: the enabled flag, expiry, the IP allow-list, and the per-key rate and
concurrency limits — checked once per request by the endpoint runner, so every endpoint and
dialect refuses the same way. (Which model and how much money is `billing.meter`'s job.)"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from pixelgate.auth.api_keys import Principal
from pixelgate.auth.limits import ip_allowed
from pixelgate.auth.ratelimit import Limiter
from pixelgate.errors import AuthenticationError, PermissionDenied, RateLimited

__all__ = ["AccessGuard"]


class AccessGuard:
    def __init__(
        self, limiter: Limiter, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.limiter = limiter
        self.clock = clock

    def check(self, principal: Principal, client_ip: str | None) -> None:
        """Raise if this key may not be used now, from this address."""
        limits = principal.limits
        if limits.expires_at is not None and limits.expires_at <= self.clock():
            raise AuthenticationError(
                f"This API key expired at {limits.expires_at.isoformat()}.", code="key_expired"
            )
        if not limits.enabled:
            raise PermissionDenied("This API key is disabled.", code="key_disabled")
        if not ip_allowed(limits, client_ip):
            raise PermissionDenied(
                f"This API key may not be used from {client_ip or 'an unknown address'}.",
                code="ip_not_allowed",
            )

    @contextlib.asynccontextmanager
    async def admit(self, principal: Principal, client_ip: str | None) -> AsyncIterator[None]:
        """Check the key, count the request, and hold a concurrency slot while it runs."""
        self.check(principal, client_ip)
        limits, key = principal.limits, principal.key_id
        if limits.rpm_limit is not None:
            wait = await self.limiter.hit(key, limits.rpm_limit)
            if wait is not None:
                raise RateLimited(
                    f"This key is limited to {limits.rpm_limit} requests per minute.",
                    retry_after=wait,
                )
        if limits.concurrency_limit is None:
            yield
            return
        if not await self.limiter.acquire(key, limits.concurrency_limit):
            raise RateLimited(
                f"This key is limited to {limits.concurrency_limit} concurrent requests.",
                code="concurrency_limit_exceeded",
                retry_after=1,
            )
        try:
            yield
        finally:
            await self.limiter.release(key)
