"""Keys, stored files and the usage log on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pixelgate.auth.api_keys import ApiKeyService
from pixelgate.core.context import RequestContext
from pixelgate.core.models import ImageFormat
from pixelgate.storage.blobs import LocalBlobStore
from pixelgate.storage.db import create_engine, ping
from pixelgate.storage.files import FileService
from pixelgate.storage.migrate import upgrade
from pixelgate.storage.tables import api_keys, files, usage_log
from pixelgate.storage.usage import UsageLog


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    upgrade(database_url)  # idempotent
    return database_url


async def test_keys_hash_only_and_revoke(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        await ping(engine)
        keys = ApiKeyService(engine)
        created = await keys.create("alice")
        assert created.secret.startswith("pg-")
        async with engine.connect() as conn:
            row = (await conn.execute(select(api_keys))).one()
        assert created.secret not in (row.key_hash, row.prefix, row.name)
        assert len(row.key_hash) == 64
        principal = await keys.authenticate(created.secret)
        assert principal is not None and principal.key_id == created.info.id
        assert await keys.authenticate(created.secret + "x") is None
        assert await keys.revoke(created.info.id)
        assert not await keys.revoke(created.info.id)
        assert await keys.authenticate(created.secret) is None
        assert await keys.count() == 1
    finally:
        await engine.dispose()


async def test_files_sign_store_and_purge(migrated: str, tmp_path: Path) -> None:
    engine = create_engine(migrated)
    blobs = LocalBlobStore(tmp_path / "images")
    service = FileService(engine, blobs, b"secret")
    try:
        stored = await service.store(b"\x89PNG fake", ImageFormat.PNG, "key_1", ttl_seconds=60)
        keep = await service.store(b"\x89PNG keep", ImageFormat.PNG, "key_1", ttl_seconds=3600)
        assert blobs.local_path(stored.blob_key) is not None
        exp = int(time.time()) + 60
        sig = service.sign(stored.id, exp)
        assert service.verify(stored.id, exp, sig, time.time())
        assert not service.verify(stored.id, exp, sig, exp + 1)
        assert not service.verify(stored.id, exp + 1, sig, time.time())
        assert not service.verify(keep.id, exp, sig, time.time())
        assert (await service.get(stored.id)) is not None
        removed = await service.purge_expired(datetime.now(UTC) + timedelta(seconds=120))
        assert removed == 1
        assert await service.get(stored.id) is None
        assert blobs.local_path(stored.blob_key) is None
        assert await service.get(keep.id) is not None
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(files))).scalar_one()
        assert count == 1
    finally:
        await engine.dispose()


async def test_usage_row_keeps_only_a_prompt_preview(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        ctx = RequestContext("req_1", "openai", "/v1/images/generations", "http://x")
        ctx.prompt_preview = "p" * 5000
        ctx.model = "sandbox-image"
        ctx.images = 2
        ctx.bytes_out = 1234
        await UsageLog(engine).record(ctx, 200, None)
        async with engine.connect() as conn:
            row = (await conn.execute(select(usage_log))).one()
        assert row.status == 200 and row.images == 2 and row.bytes == 1234
        assert len(row.prompt_preview) == 80
    finally:
        await engine.dispose()
