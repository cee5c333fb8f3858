"""The API-key cache's revocation bound and group commit (usage log, failures), on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.core.context import RequestContext
from pixelgate.storage.db import create_engine
from pixelgate.storage.group_commit import GroupCommit
from pixelgate.storage.migrate import upgrade
from pixelgate.storage.tables import api_keys, usage_log
from pixelgate.storage.usage import UsageLog


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


async def test_revocation_here_is_immediate_elsewhere_bounded_by_ttl(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        cached = ApiKeyService(engine, cache_ttl=3600)
        other = ApiKeyService(engine)  # "another process": no shared memory
        a = await cached.create("a")
        b = await cached.create("b")
        assert await cached.authenticate(a.secret) is not None
        # Revoked through this service: refused at once, cache or not.
        assert await cached.revoke(a.info.id)
        assert await cached.authenticate(a.secret) is None
        # Revoked elsewhere: this process may trust its entry until the TTL runs out.
        assert await cached.authenticate(b.secret) is not None
        assert await other.revoke(b.info.id)
        assert await other.authenticate(b.secret) is None
        assert await cached.authenticate(b.secret) is not None
        short = ApiKeyService(engine, cache_ttl=0.2)
        c = await short.create("c")
        assert await short.authenticate(c.secret) is not None
        assert await other.revoke(c.info.id)
        await asyncio.sleep(0.3)
        assert await short.authenticate(c.secret) is None
        # Unknown keys are not cached: a key created later works at once.
        assert await short.authenticate("pg-nope") is None
    finally:
        await engine.dispose()


async def test_concurrent_rows_are_all_committed_before_record_returns(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        usage = UsageLog(engine)

        async def one(i: int) -> int:
            ctx = RequestContext(f"req_{i}", "openai", "/v1/images/generations", "http://x")
            await usage.record(ctx, 200, None)
            async with engine.connect() as conn:
                found = await conn.execute(
                    select(func.count())
                    .select_from(usage_log)
                    .where(usage_log.c.request_id == f"req_{i}")
                )
                return int(found.scalar_one())

        seen = await asyncio.gather(*(one(i) for i in range(60)))
        assert seen == [1] * 60, "a row was not visible when record() returned"
        await usage.aclose()
        async with engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(usage_log))).scalar_one()
        assert total == 60
    finally:
        await engine.dispose()


async def test_group_commit_fails_only_the_bad_row(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        writer = GroupCommit(engine, api_keys)
        now = datetime.now(UTC)

        def row(key_id: str, digest: str) -> dict[str, object]:
            return {
                "id": key_id,
                "name": key_id,
                "key_hash": digest,
                "prefix": "pg-x",
                "created_at": now,
                "revoked_at": None,
            }

        results = await asyncio.gather(
            writer.insert(row("key_a", "a" * 64)),
            writer.insert(row("key_b", "b" * 64)),
            writer.insert(row("key_c", "a" * 64)),  # duplicate hash: refused
            return_exceptions=True,
        )
        assert results[0] is None and results[1] is None
        assert isinstance(results[2], IntegrityError)
        async with engine.connect() as conn:
            ids = (await conn.execute(select(api_keys.c.id).order_by(api_keys.c.id))).all()
        assert [r.id for r in ids] == ["key_a", "key_b"]
        await writer.aclose()
    finally:
        await engine.dispose()
