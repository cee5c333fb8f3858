"""The process-wide services an app instance holds (built in the lifespan)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.auth.access import AccessGuard
from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.auth.ratelimit import LocalLimiter
from pixelgate.billing.book import PriceBook, build_price_book
from pixelgate.billing.meter import Meter
from pixelgate.catalog import Catalog, load_catalog
from pixelgate.core.answer_budget import AnswerBudget
from pixelgate.core.executor import Executor
from pixelgate.core.pipeline import Pipeline, PipelineDeps
from pixelgate.core.router import Router
from pixelgate.core.safe_fetch import FetchPolicy
from pixelgate.observability.signals import Signals
from pixelgate.providers import ProviderSpec, load_providers
from pixelgate.settings import GatewayConfig, Settings, load_config
from pixelgate.storage.blobs import BlobStore, LocalBlobStore
from pixelgate.storage.db import create_engine
from pixelgate.storage.files import FileService
from pixelgate.storage.idempotency import IdempotencyStore
from pixelgate.storage.usage import UsageLog
from pixelgate.tasks.codec import RequestCodec
from pixelgate.tasks.service import TaskService
from pixelgate.tasks.store import TaskStore
from pixelgate.tasks.worker import Worker

__all__ = ["Services", "blob_store", "build_services", "load_gateway_config", "secret_key"]


@dataclass
class Services:
    settings: Settings
    config: GatewayConfig
    engine: AsyncEngine
    keys: ApiKeyService
    files: FileService
    usage: UsageLog
    idempotency: IdempotencyStore
    executor: Executor
    router: Router
    catalog: Catalog
    pipeline: Pipeline
    providers: dict[str, ProviderSpec]
    tasks: TaskService
    prices: PriceBook
    access: AccessGuard

    def worker(self) -> Worker:
        return Worker(self.tasks, self.router, self.providers, self.executor)

    signals: Signals

    async def aclose(self) -> None:
        await self.tasks.aclose()
        await self.usage.aclose()
        await self.files.aclose()
        await self.executor.aclose()
        await self.engine.dispose()
        self.signals.close()


def secret_key(settings: Settings) -> bytes:
    """The signing secret: PIXELGATE_SECRET_KEY, or one generated once under the data dir."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip().encode()


def load_gateway_config(settings: Settings) -> tuple[GatewayConfig, dict[str, ProviderSpec]]:
    providers = load_providers()
    return load_config(settings.config, frozenset(providers)), providers


def blob_store(settings: Settings) -> BlobStore:
    if settings.blob_store == "s3":
        from pixelgate.storage.s3 import S3BlobStore, S3Settings

        return S3BlobStore(S3Settings())
    return LocalBlobStore(settings.images_dir)


def build_services(settings: Settings) -> Services:
    config, providers = load_gateway_config(settings)
    engine = create_engine(settings.effective_database_url)
    blobs = blob_store(settings)
    files = FileService(engine, blobs, secret_key(settings))
    networks = [*config.fetch.allow_networks, *settings.fetch_allow_networks.split(",")]
    policy = FetchPolicy.from_strings(networks, settings.max_upload_bytes)
    budget = AnswerBudget(settings.answer_budget_per_process)
    executor = Executor(policy, client=settings.upstream_client, budget=budget)
    catalog = load_catalog()
    router = Router(config, catalog.aliases)
    prices = build_price_book(config.prices, config.groups)
    pipeline = Pipeline(
        PipelineDeps(
            router=router,
            catalog=catalog,
            providers=providers,
            executor=executor,
            files=files,
            url_ttl_seconds=config.defaults.url_ttl_seconds,
            max_upload_bytes=settings.max_upload_bytes,
            meter=Meter(engine, prices),
        )
    )
    tasks = TaskService(TaskStore(engine), pipeline, RequestCodec(blobs), config.tasks, policy)
    pipeline.tasks = tasks
    return Services(
        settings=settings,
        config=config,
        engine=engine,
        keys=ApiKeyService(engine, settings.key_cache_seconds),
        files=files,
        usage=UsageLog(engine),
        idempotency=IdempotencyStore(engine),
        executor=executor,
        router=router,
        catalog=catalog,
        pipeline=pipeline,
        providers=providers,
        tasks=tasks,
        prices=prices,
        access=AccessGuard(LocalLimiter()),
        signals=Signals(router),
    )
