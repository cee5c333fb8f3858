"""The `pixelgate` command: serve, migrate, keys create/list/revoke."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from pixelgate.auth.api_keys import ApiKeyService
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
    """Start-up work that must happen once (migrations, the first key, the signing secret)
    runs here, before any worker exists; then uvicorn serves, in this process or in
    PIXELGATE_WORKERS worker processes sharing the socket."""
    import uvicorn

    from pixelgate.app import create_app
    from pixelgate.services import blob_store, secret_key

    blob_store(settings)  # a bad PIXELGATE_BLOB_STORE/S3 setting stops the start here
    if settings.auto_migrate:
        upgrade(settings.effective_database_url)
    asyncio.run(_first_key(settings))
    # Generated here, once: workers racing to create it would sign with different secrets.
    secret_key(settings)
    workers = max(1, settings.workers)
    print(
        f"pixelgate listening on http://{settings.host}:{settings.port} "
        f"(data in {settings.data_dir.resolve()}, {workers} worker(s))",
        flush=True,
    )
    loop = "uvloop" if _importable("uvloop") else "auto"
    http = "httptools" if _importable("httptools") else "auto"
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            loop=loop,  # uvloop and httptools (uvicorn[standard]); "auto" falls back quietly
            http=http,
            backlog=4096,
        )
        return 0
    # N workers: replace this process with uvicorn's supervisor, which spawns workers that
    # each build the app from the same PIXELGATE_* environment (app.create_worker_app).
    # Exec rather than uvicorn.run(): the supervisor then holds none of the ~60 MB this
    # process imported for migrations. Workers get 30 s (not 5) to start and to answer
    # health pings, so a busy machine does not make the supervisor kill healthy workers.
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "uvicorn", "pixelgate.app:create_worker_app", "--factory"]
    argv += ["--workers", str(workers), "--host", settings.host, "--port", str(settings.port)]
    argv += ["--log-level", settings.log_level.lower(), "--no-access-log", "--loop", loop]
    argv += ["--http", http, "--backlog", "4096", "--timeout-worker-healthcheck", "30"]
    os.execv(sys.executable, argv)
    return 0


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


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
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
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
