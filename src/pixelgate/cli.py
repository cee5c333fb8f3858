"""The `pixelgate` command: serve, worker, migrate, keys create/list/revoke/credit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import signal
import sys
from collections.abc import Sequence

from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.cli_keys import add_key_commands, run_keys
from pixelgate.observability.logs import configure_logging
from pixelgate.observability.multiproc import prepare_multiprocess
from pixelgate.settings import ConfigError, Settings
from pixelgate.storage.db import create_engine
from pixelgate.storage.migrate import upgrade

__all__ = ["main"]


def _keys_service(settings: Settings) -> ApiKeyService:
    return ApiKeyService(create_engine(settings.effective_database_url))


async def _first_key(settings: Settings) -> None:
    service = _keys_service(settings)
    try:
        if await service.count() == 0:
            created = await service.create("default")  # unlimited: no billing set up yet
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
    # Before the app (and prometheus_client) is imported: workers share a metrics directory.
    prepare_multiprocess(settings.workers, settings.data_dir)
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
            log_config=None,  # uvicorn's records go to the root handler (JSON by default)
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


async def _run_worker(settings: Settings) -> None:
    from pixelgate.services import build_services

    services = build_services(settings)
    await services.start()
    worker = asyncio.create_task(services.worker().run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.cancel)
    print("pixelgate task worker running", flush=True)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    finally:
        await services.aclose()


def _worker(settings: Settings) -> int:
    """The task worker alone, for deployments that keep it apart from the API processes."""
    if settings.auto_migrate:
        upgrade(settings.effective_database_url)
    asyncio.run(_run_worker(settings))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the gateway (applies migrations first by default)")
    sub.add_parser("worker", help="run only the task worker (polls upstreams, finishes tasks)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    add_key_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "serve":
            return _serve(settings)
        if args.command == "worker":
            return _worker(settings)
        upgrade(settings.effective_database_url)
        if args.command == "migrate":
            print("Database schema is up to date.")
            return 0
        return asyncio.run(run_keys(settings, args))
    except ConfigError as exc:
        print(f"pixelgate: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
