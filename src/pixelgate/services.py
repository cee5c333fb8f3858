"""The process-wide services an app instance holds (built in the lifespan)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.auth.access import AccessGuard
from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.auth.ratelimit import Limiter, LocalLimiter
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
from pixelgate.scale.broadcast import Broadcast, NullBroadcast, Topic
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

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "Services",
    "blob_store",
    "build_services",
    "load_gateway_config",
    "secret_key",
    "shared_state",
]


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
    broadcast: Broadcast
    redis: Redis | None = None

    async def start(self) -> None:
        """What needs the running event loop: the cross-process subscription."""
        await self.broadcast.start()

    async def aclose(self) -> None:
        await self.broadcast.aclose()
        await self.access.limiter.aclose()
        if self.redis is not None:
            await self.redis.aclose()
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


def shared_state(settings: Settings) -> tuple[Redis | None, Limiter, Broadcast]:
    """Rate limits and cross-process signals: in Redis when PIXELGATE_REDIS_URL is set,
    else in this process (pixelgate.scale)."""
    if settings.redis_url is None:
        return None, LocalLimiter(), NullBroadcast()
    from pixelgate.scale.redis_broadcast import RedisBroadcast
    from pixelgate.scale.redis_client import redis_client
    from pixelgate.scale.redis_limiter import RedisLimiter

    client = redis_client(settings.redis_url)
    limiter = RedisLimiter(client, settings.redis_prefix, settings.redis_slot_lease_seconds)
    return client, limiter, RedisBroadcast(client, settings.redis_prefix)


def _subscribe(broadcast: Broadcast, keys: ApiKeyService, tasks: TaskService) -> None:
    tasks.broadcast = broadcast
    # A lambda, not the bound method: the worker replaces `tasks.wake` when it starts.
    broadcast.subscribe(Topic.TASK_CREATED, lambda _task_id: tasks.wake())
    broadcast.subscribe(Topic.TASK_FINAL, tasks.notify)
    broadcast.subscribe(Topic.KEY_CHANGED, keys.forget)
    broadcast.on_gap(keys.forget_all)
    broadcast.on_gap(lambda: tasks.wake())


def build_services(settings: Settings) -> Services:
    config, providers = load_gateway_config(settings)
    redis, limiter, broadcast = shared_state(settings)
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
    keys = ApiKeyService(engine, settings.key_cache_seconds, broadcast)
    _subscribe(broadcast, keys, tasks)
    return Services(
        settings=settings,
        config=config,
        engine=engine,
        keys=keys,
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
        access=AccessGuard(limiter),
        signals=Signals(router),
        broadcast=broadcast,
        redis=redis,
    )
