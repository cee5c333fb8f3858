"""The task store on SQLite and PostgreSQL: compare-and-swap transitions, leased claims that
never hand one task to two workers, and task rows that never hold image data."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pixelgate.core.models import ImageInput, ImageRequest, Operation, Size
from pixelgate.storage.blobs import LocalBlobStore
from pixelgate.storage.db import create_engine
from pixelgate.storage.migrate import upgrade
from pixelgate.storage.tables import tasks
from pixelgate.tasks.codec import RequestCodec
from pixelgate.tasks.models import Task, TaskState
from pixelgate.tasks.store import TaskStore, utcnow
from tests.fakes.images import image_bytes


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


async def add(store: TaskStore, task_id: str) -> Task:
    async with store.engine.begin() as conn:
        return await store.insert(
            conn,
            {
                "id": task_id,
                "key_id": "key_1",
                "origin": "v1",
                "model": "m",
                "request": "{}",
                "deadline": utcnow() + timedelta(minutes=5),
                "base_url": "http://gw",
            },
        )


async def test_transitions_are_compare_and_swap(migrated: str) -> None:
    store = TaskStore(create_engine(migrated))
    try:
        task = await add(store, "task_cas")
        [claimed] = await store.claim("worker-a", 10, 30)
        assert claimed.lease_owner == "worker-a" and claimed.state is TaskState.QUEUED
        assert not await store.cas(task, "worker-b", {"state": "submitting"})  # not its lease
        assert await store.cas(task, "worker-a", {"state": "submitting"})
        assert not await store.cas(task, "worker-a", {"state": "running"})  # state moved on
        fresh = await store.get(task.id)
        assert fresh is not None and fresh.state is TaskState.SUBMITTING
        assert await store.claim("worker-b", 10, 30) == []  # still leased to worker-a
        await store.release_all("worker-a")
        [again] = await store.claim("worker-b", 10, 30)
        assert again.id == task.id and again.lease_owner == "worker-b"
    finally:
        await store.engine.dispose()


async def test_concurrent_claims_never_share_a_task(migrated: str) -> None:
    setup = TaskStore(create_engine(migrated))
    ids = [f"task_{i:04d}" for i in range(60)]
    for task_id in ids:
        await add(setup, task_id)
    await setup.engine.dispose()
    # separate engines, as separate processes would have
    stores = [TaskStore(create_engine(migrated)) for _ in range(4)]

    async def drain(store: TaskStore, owner: str) -> list[str]:
        got: list[str] = []
        while batch := await store.claim(owner, 7, 60):
            got += [t.id for t in batch]
        return got

    try:
        results = await asyncio.gather(*(drain(s, f"w{i}") for i, s in enumerate(stores)))
    finally:
        for store in stores:
            await store.engine.dispose()
    claimed = [task_id for got in results for task_id in got]
    assert sorted(claimed) == ids  # every task once, none twice


async def test_expired_leases_are_claimed_again(migrated: str) -> None:
    store = TaskStore(create_engine(migrated))
    try:
        task = await add(store, "task_lease")
        assert [t.id for t in await store.claim("dead-worker", 5, 30)] == [task.id]
        async with store.engine.begin() as conn:  # the dead worker's lease runs out
            await conn.execute(update(tasks).values(lease_until=utcnow() - timedelta(seconds=1)))
        [resumed] = await store.claim("live-worker", 5, 30)
        assert resumed.id == task.id and resumed.lease_owner == "live-worker"
    finally:
        await store.engine.dispose()


async def test_request_rows_hold_no_image_data(migrated: str, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    codec = RequestCodec(blobs)
    png = image_bytes(32, 32)
    b64 = base64.b64encode(png).decode()
    req = ImageRequest(
        model="flux-kontext-pro",
        prompt="add a hat",
        operation=Operation.EDIT,
        size=Size(64, 32),
        images=(ImageInput(data=png, content_type="image/png", param="image"),),
        native={"prompt": "add a hat", "image_prompt": b64, "nested": [{"x": b64}]},
        upstream_params={"image_prompt": b64},
    )
    text, keys = await codec.dump("task_codec", req)
    assert b64[:40] not in text and len(text) < 2000
    assert keys and all(k.startswith("tasks/task_codec/") for k in keys)
    assert await codec.load(text) == req
    await codec.discard_task(text)
    assert all(blobs.local_path(k) is None for k in keys)
    store = TaskStore(create_engine(migrated))
    try:
        async with store.engine.begin() as conn:
            await store.insert(
                conn,
                {"id": "task_row", "key_id": "k", "origin": "v1", "model": "m",
                 "request": text, "deadline": utcnow(), "base_url": "http://gw"},
            )  # fmt: skip
        async with store.engine.connect() as conn:
            stored = (await conn.execute(select(tasks.c.request))).scalar_one()
        assert stored == text
    finally:
        await store.engine.dispose()
