"""The billing glue the pipeline calls: may this key use this model, hold the worst case
before the upstream call, settle on what was delivered, give everything back on failure.

One `hold` per request, in one place in the pipeline, so every endpoint and dialect is billed
the same way. The request id is the reservation id, which ties the ledger entries to the
usage-log row of the same request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.auth.api_keys import Principal
from pixelgate.auth.limits import model_allowed
from pixelgate.billing import ledger
from pixelgate.billing.book import PriceBook
from pixelgate.billing.prices import PriceSpec
from pixelgate.billing.pricing import Delivery, cost, quote
from pixelgate.catalog.contract import ModelContract
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, ImageResult, Size
from pixelgate.errors import AuthenticationError, PermissionDenied
from pixelgate.providers.base import Route

if TYPE_CHECKING:
    from pixelgate.core.pipeline import OutputImage

__all__ = ["Bill", "Meter"]

log = logging.getLogger("pixelgate.billing")


class Bill:
    """An open reservation for one request; `settle` once the images are delivered."""

    def __init__(
        self,
        engine: AsyncEngine,
        ctx: RequestContext,
        spec: PriceSpec | None,
        multiplier: Fraction,
        held: ledger.Reservation | None,
        deferred: ledger.Account | None = None,
    ) -> None:
        self.engine = engine
        self.ctx = ctx
        self.spec = spec
        self.multiplier = multiplier
        self.held = held
        # A key with nothing to protect (unlimited, no spend limit) has its reservation
        # written together with its settlement: one transaction per request, not two.
        self.deferred = deferred
        self.settled = False

    async def settle(
        self, req: ImageRequest, result: ImageResult, outputs: Sequence[OutputImage]
    ) -> None:
        """Charge what was delivered: the images' own sizes, the upstream's usage. If this
        raises (the database is down), the bill stays open and `hold` releases it."""
        if self.spec is None or self.held is None:
            self.settled = True
            self.ctx.price_mode = "unpriced"
            return
        sizes = tuple(o.size or result.size or req.size or Size(0, 0) for o in outputs)
        got = Delivery(sizes, result.usage, result.quality)
        charge = cost(self.spec, req, got, self.multiplier)
        async with self.engine.begin() as conn:
            if self.deferred is not None:
                await ledger.reserve(conn, self.deferred, self.held.id, self.held.amount)
            charged = await ledger.settle(conn, self.held, charge.amount)
        self.settled = True
        self.ctx.charge = charge
        self.ctx.cost = charged or 0
        if charged is None:
            log.warning(
                "request %s: its reservation was already released (stale); not charged",
                self.ctx.request_id,
            )
        elif charged < charge.amount:
            log.warning(
                "request %s cost %d micro-units but reserved only %d; charged the reservation",
                self.ctx.request_id,
                charge.amount,
                charged,
            )

    async def release(self) -> None:
        """Give the whole reservation back (the request failed)."""
        self.settled = True
        if self.held is None or self.deferred is not None:
            return  # nothing was written, so nothing to give back
        try:
            async with self.engine.begin() as conn:
                await ledger.release(conn, self.held)
        except Exception:
            log.exception(
                "request %s: could not release reservation of %d micro-units",
                self.ctx.request_id,
                self.held.amount,
            )


class Meter:
    def __init__(self, engine: AsyncEngine, book: PriceBook) -> None:
        self.engine = engine
        self.book = book

    @staticmethod
    def _principal(ctx: RequestContext) -> Principal:
        if ctx.principal is None:
            raise AuthenticationError("Missing API key.")
        return ctx.principal

    def check_model(self, ctx: RequestContext, requested: str, routes: Sequence[Route]) -> None:
        """403 unless the key's model allow-list names the model, by any of its names."""
        names = {requested, *(r.deployment.model for r in routes)}
        names.update(alias for r in routes for alias in r.deployment.aliases)
        if not model_allowed(self._principal(ctx).limits, *names):
            raise PermissionDenied(
                f"This API key may not use the model {requested!r}.",
                param="model",
                code="model_not_allowed",
            )

    @contextlib.asynccontextmanager
    async def hold(
        self, ctx: RequestContext, req: ImageRequest, contract: ModelContract, upstream: str
    ) -> AsyncIterator[Bill]:
        """Reserve the worst case of `req` now; release it unless the body settles the bill."""
        limits = self._principal(ctx).limits
        multiplier = self.book.multiplier(limits.group)
        if multiplier is None:
            raise PermissionDenied(
                f"This API key's group {limits.group!r} has no price multiplier configured.",
                code="group_not_configured",
            )
        spec = self.book.price(req.model, upstream)
        held = None
        deferred: ledger.Account | None = None
        if spec is None and limits.spend_capped():
            raise PermissionDenied(
                f"The model {req.model!r} has no price, so keys with a balance or a spend "
                "limit may not use it.",
                param="model",
                code="model_not_priced",
            )
        if spec is not None:
            worst = quote(spec, req, contract, multiplier)
            account = ledger.Account(
                ctx.key_id or "", limits.unlimited, limits.daily_limit, limits.monthly_limit
            )
            deferred = None if limits.spend_capped() else account
            if deferred is None:
                async with self.engine.begin() as conn:
                    held = await ledger.reserve(conn, account, ctx.request_id, worst.amount)
            else:
                held = ledger.Reservation(ctx.request_id, account.key_id, worst.amount, False)
            ctx.reserved = worst.amount
        bill = Bill(self.engine, ctx, spec, multiplier, held, deferred)
        try:
            yield bill
        finally:
            if not bill.settled:
                # Shielded: a client that hangs up must not leave money on hold.
                await asyncio.shield(bill.release())
