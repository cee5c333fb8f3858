"""`pixelgate keys …`: create (with limits), list, revoke and credit client keys.

Amounts on the command line are in currency units (`--balance 10` is 10 USD); they are stored
as integer micro-units. A key created here without `--balance` is unlimited, like the first
key `serve` creates, so the README quickstart works with no billing set up.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import uuid
from datetime import datetime

from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.auth.limits import KeyLimits, aware
from pixelgate.billing import ledger
from pixelgate.billing.book import build_price_book
from pixelgate.billing.prices import to_micros
from pixelgate.scale.redis_broadcast import RedisBroadcast
from pixelgate.scale.redis_client import redis_client
from pixelgate.services import load_gateway_config
from pixelgate.settings import ConfigError, Settings
from pixelgate.storage.db import create_engine

__all__ = ["add_key_commands", "run_keys"]


def _usd(value: str) -> int:
    try:
        return to_micros(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a whole number ≥ 1")
    return int(value)


def _time(value: str) -> datetime:
    try:
        parsed = aware(datetime.fromisoformat(value))
    except ValueError:
        raise argparse.ArgumentTypeError("must be an ISO 8601 time, e.g. 2031-01-31") from None
    assert parsed is not None
    return parsed


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def add_key_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="manage client API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="create a key; prints it as the last line")
    create.add_argument("--name", required=True)
    money = create.add_mutually_exclusive_group()
    money.add_argument("--balance", type=_usd, help="metered key with this opening balance")
    money.add_argument("--unlimited", action="store_true", help="no balance (the default)")
    create.add_argument("--daily-limit", type=_usd, help="spend limit per UTC day")
    create.add_argument("--monthly-limit", type=_usd, help="spend limit per UTC month")
    create.add_argument("--rpm", type=_positive, help="requests per minute")
    create.add_argument("--concurrency", type=_positive, help="concurrent requests")
    create.add_argument("--expires", type=_time, help="expiry time (ISO 8601, UTC if no zone)")
    create.add_argument("--models", type=_csv, help="allowed models, comma-separated")
    create.add_argument("--ips", type=_csv, help="allowed IPs or CIDR ranges, comma-separated")
    create.add_argument("--group", default="default", help="price group (see `groups:`)")
    create.add_argument("--disabled", action="store_true", help="create it disabled")
    keys_sub.add_parser("list", help="list keys (never their secrets)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    credit = keys_sub.add_parser("credit", help="add credit to a key (amount in currency units)")
    credit.add_argument("id")
    credit.add_argument("amount", type=_usd)
    credit.add_argument("--idempotency-key", help="repeat-safe id for this top-up")
    credit.add_argument("--note")


def _limits(settings: Settings, args: argparse.Namespace) -> KeyLimits:
    config, _ = load_gateway_config(settings)
    book = build_price_book(config.prices, config.groups)
    if book.multiplier(args.group) is None:
        known = ", ".join(sorted(book.groups()))
        raise ConfigError(f"unknown group {args.group!r} (configured groups: {known})")
    return KeyLimits(
        unlimited=args.balance is None,
        enabled=not args.disabled,
        expires_at=args.expires,
        daily_limit=args.daily_limit,
        monthly_limit=args.monthly_limit,
        allowed_models=args.models,
        allowed_ips=args.ips,
        rpm_limit=args.rpm,
        concurrency_limit=args.concurrency,
        group=args.group,
    )


def _describe(limits: KeyLimits) -> str:
    parts = ["unlimited" if limits.unlimited else "metered"]
    defaults = KeyLimits()
    for f in dataclasses.fields(limits):
        value = getattr(limits, f.name)
        if f.name != "unlimited" and value != getattr(defaults, f.name):
            parts.append(f"{f.name}={value}")
    return ", ".join(parts)


async def run_keys(settings: Settings, args: argparse.Namespace) -> int:
    # With Redis, a revocation here reaches the running gateways' key caches at once.
    client = redis_client(settings.redis_url) if settings.redis_url else None
    broadcast = RedisBroadcast(client, settings.redis_prefix) if client else None
    service = ApiKeyService(create_engine(settings.effective_database_url), broadcast=broadcast)
    try:
        if args.action == "create":
            limits = _limits(settings, args)
            created = await service.create(args.name, limits, args.balance or 0)
            print(f"Created key {created.info.id} ({created.info.name}; {_describe(limits)}).")
            print("It is shown only once:")
            print(created.secret)
            return 0
        if args.action == "list":
            async with service.engine.connect() as conn:
                rows = [(k, await ledger.balance(conn, k.id)) for k in await service.list()]
            print(f"{'ID':<22} {'NAME':<24} {'PREFIX':<12} {'CREATED':<26} {'STATUS':<8} BALANCE")
            for k, b in rows:
                status = "revoked" if k.revoked_at else "active"
                created_at = k.created_at.isoformat(timespec="seconds")
                money = "unlimited" if k.limits.unlimited else ledger.usd(b.available)
                print(
                    f"{k.id:<22} {k.name:<24} {k.prefix:<12} {created_at:<26} {status:<8} {money}"
                )
            return 0
        if args.action == "credit":
            info = await service.get(args.id)
            if info is None or info.revoked_at is not None:
                print(f"No active key with id {args.id}.", file=sys.stderr)
                return 1
            idem = args.idempotency_key or "cli:" + uuid.uuid4().hex
            async with service.engine.begin() as conn:
                done = await ledger.credit(
                    conn, args.id, args.amount, f"{args.id}:{idem}", args.note
                )
            async with service.engine.connect() as conn:
                b = await ledger.balance(conn, args.id)
            verb = "Credited" if done else "Already credited (same idempotency key):"
            amount, left = ledger.usd(args.amount), ledger.usd(b.available)
            print(f"{verb} {amount} to {args.id}; available {left}.")
            return 0
        if await service.revoke(args.id):
            print(f"Revoked key {args.id}.")
            return 0
        print(f"No active key with id {args.id}.", file=sys.stderr)
        return 1
    finally:
        await service.engine.dispose()
        if client is not None:
            await client.aclose()
