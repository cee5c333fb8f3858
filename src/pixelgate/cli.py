"""The `pixelgate` command: serve, migrate, keys create/list/revoke."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.observability.logs import configure_logging
from pixelgate.observability.multiproc import prepare_multiprocess
from pixelgate.settings import ConfigError, Settings
from pixelgate.storage.db import create_engine
from pixelgate.storage.migrate import upgrade

__all__ = ["main"]


def _keys_service(settings: Settings) -> ApiKeyService:
    return ApiKeyService(create_engine(settings.effective_database_url))


async def _with_keys(settings: Settings, action: str, arg: str | None) -> int:
    service = _keys_service(settings)
    try:
        if action == "create":
            created = await service.create(arg or "unnamed")
            print(f"Created key {created.info.id} ({created.info.name}). It is shown only once:")
            print(created.secret)
            return 0
        if action == "list":
            rows = await service.list()
            print(f"{'ID':<22} {'NAME':<24} {'PREFIX':<12} {'CREATED':<26} STATUS")
            for k in rows:
                status = "revoked" if k.revoked_at else "active"
                created_at = k.created_at.isoformat(timespec="seconds")
                print(f"{k.id:<22} {k.name:<24} {k.prefix:<12} {created_at:<26} {status}")
            return 0
        assert arg is not None
        if await service.revoke(arg):
            print(f"Revoked key {arg}.")
            return 0
        print(f"No active key with id {arg}.", file=sys.stderr)
        return 1
    finally:
        await service.engine.dispose()


async def _first_key(settings: Settings) -> None:
    service = _keys_service(settings)
    try:
        if await service.count() == 0:
            created = await service.create("default")
            bar = "=" * 72
            print(
                f"\n{bar}\n  pixelgate: no API keys existed, so one was created for you.\n"
                f"  It is shown only this once; keep it:\n\n    {created.secret}\n\n"
                f"  Try: curl -s http://{settings.host}:{settings.port}/v1/models "
                f'-H "Authorization: Bearer {created.secret}"\n{bar}\n',
                flush=True,
            )
    finally:
        await service.engine.dispose()


def _serve(settings: Settings) -> int:
    # Before the app (and prometheus_client) is imported: workers share a metrics directory.
    prepare_multiprocess(settings.workers, settings.data_dir)
    import uvicorn

    from pixelgate.app import create_app

    if settings.auto_migrate:
        upgrade(settings.effective_database_url)
    asyncio.run(_first_key(settings))
    app = create_app(settings)
    print(
        f"pixelgate listening on http://{settings.host}:{settings.port} "
        f"(data in {settings.data_dir.resolve()})",
        flush=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        log_config=None,  # uvicorn's records go to the root handler (JSON by default)
        loop="auto",
        http="auto",
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway (applies migrations first by default)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    keys = sub.add_parser("keys", help="manage client API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="create a key; prints it as the last line")
    create.add_argument("--name", required=True)
    keys_sub.add_parser("list", help="list keys (never their secrets)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "serve":
            return _serve(settings)
        upgrade(settings.effective_database_url)
        if args.command == "migrate":
            print("Database schema is up to date.")
            return 0
        arg = getattr(args, "name", None) or getattr(args, "id", None)
        return asyncio.run(_with_keys(settings, args.action, arg))
    except ConfigError as exc:
        print(f"pixelgate: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
