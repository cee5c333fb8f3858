"""Billing for tasks: reserve the worst case when the task is created, charge what was
delivered when it completes, release everything when it fails or times out — each in the
same transaction as the task's own state change (see pixelgate.tasks.settle), so a task is
billed exactly once whatever crashes in between."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from pixelgate.billing import ledger
from pixelgate.billing.meter import Meter
from pixelgate.billing.pricing import Charge, Delivery, cost, quote
from pixelgate.catalog import Catalog
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageRequest, Size
from pixelgate.errors import PermissionDenied

__all__ = ["TaskQuote", "task_charge", "task_quote"]


@dataclass(frozen=True, slots=True)
class TaskQuote:
    account: ledger.Account
    amount: int
    group: str


def task_quote(
    meter: Meter, catalog: Catalog, ctx: RequestContext, req: ImageRequest, upstream: str
) -> TaskQuote | None:
    """The reservation a new task needs, or None when its model has no price (allowed only
    for keys without a balance or spend limit, as for sync requests)."""
    principal = ctx.principal
    if principal is None:
        return None
    limits = principal.limits
    multiplier = meter.book.multiplier(limits.group)
    if multiplier is None:
        raise PermissionDenied(
            f"This API key's group {limits.group!r} has no price multiplier configured.",
            code="group_not_configured",
        )
    spec = meter.book.price(req.model, upstream)
    if spec is None:
        if limits.spend_capped():
            raise PermissionDenied(
                f"The model {req.model!r} has no price, so keys with a balance or a spend "
                "limit may not use it.",
                param="model",
                code="model_not_priced",
            )
        return None
    worst = quote(spec, req, catalog.contract(req.model), multiplier)
    account = ledger.Account(
        principal.key_id, limits.unlimited, limits.daily_limit, limits.monthly_limit
    )
    return TaskQuote(account, worst.amount, limits.group)


def task_charge(
    meter: Meter, req: ImageRequest, upstream: str, group: str, sizes: tuple[Size, ...]
) -> Charge | None:
    """What the delivered images of a task cost (None when the model has no price)."""
    spec = meter.book.price(req.model, upstream)
    multiplier = meter.book.multiplier(group)
    if spec is None or multiplier is None:
        return None
    return cost(spec, req, Delivery(sizes, None, req.quality), multiplier)


async def reserve(conn: AsyncConnection, task_id: str, held: TaskQuote) -> None:
    await ledger.reserve(conn, held.account, task_id, held.amount)
