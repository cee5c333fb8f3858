"""The console's queries (console/data.py, data_tasks.py) on SQLite and PostgreSQL: days in
UTC, groups, key scoping, thumbnails by request id, deployment statistics, paging, balances,
tasks and what they hold or cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.billing import ledger
from pixelgate.console import data, data_tasks
from pixelgate.core.models import ImageFormat
from pixelgate.storage.blobs import LocalBlobStore
from pixelgate.storage.db import create_engine
from pixelgate.storage.files import FileService
from pixelgate.storage.migrate import upgrade
from pixelgate.storage.tables import tasks, usage_log
from pixelgate.tasks.models import StoredImage as TaskImage
from pixelgate.tasks.models import TaskResult, TaskState

DAY = date(2025, 3, 10)


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)  # synchronous: runs its own event loop
    return database_url


@pytest.fixture
async def engine(migrated: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(migrated)
    try:
        yield eng
    finally:
        await eng.dispose()


def _row(n: int, when: datetime, **over: Any) -> dict[str, Any]:
    row = {
        "request_id": f"req_{n}",
        "created_at": when,
        "key_id": "key_a",
        "dialect": "openai",
        "endpoint": "/v1/images/generations",
        "model": "sandbox-image",
        "deployment": "sandbox/sandbox-image",
        "operation": "generate",
        "status": 200,
        "latency_ms": 100,
        "images": 1,
        "bytes": 10,
        "error_code": None,
        "prompt_preview": "p",
    }
    return row | over


async def _insert(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(usage_log), rows)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def test_daily_groups_by_utc_day_and_fills_gaps(engine: AsyncEngine) -> None:
    await _insert(
        engine,
        [
            _row(1, _at(DAY, 0, 1), images=2),
            _row(2, _at(DAY, 23, 59), images=3),
            _row(3, _at(DAY + timedelta(days=2), 12), status=500, images=0),
            _row(4, _at(DAY + timedelta(days=2), 12), key_id="key_b", images=4),
            _row(5, _at(DAY - timedelta(days=1), 23, 59), images=7),  # outside the range
        ],
    )
    flt = data.UsageFilter(DAY, DAY + timedelta(days=2))
    days = await data.daily(engine, flt)
    assert [(d.day, d.requests, d.images, d.errors) for d in days] == [
        (DAY, 2, 5, 0),
        (DAY + timedelta(days=1), 0, 0, 0),
        (DAY + timedelta(days=2), 2, 4, 1),
    ]
    only_a = await data.daily(engine, data.UsageFilter(flt.start, flt.end, key_id="key_a"))
    assert sum(d.images for d in only_a) == 5 and sum(d.requests for d in only_a) == 3
    keys = {g.name: (g.requests, g.images) for g in await data.by_key(engine, flt)}
    assert keys == {"key_a": (3, 5), "key_b": (1, 4)}
    export = await data.export_rows(engine, flt)
    assert export[0] == (DAY.isoformat(), "key_a", "sandbox-image", 2, 5, 0, 0)


async def test_by_model_and_model_filter(engine: AsyncEngine) -> None:
    await _insert(
        engine,
        [
            _row(1, _at(DAY, 1), model="a", latency_ms=100),
            _row(2, _at(DAY, 2), model="a", latency_ms=300),
            _row(3, _at(DAY, 3), model="b", key_id="key_b"),
        ],
    )
    flt = data.UsageFilter(DAY, DAY)
    models = await data.by_model(engine, flt)
    rows = [(g.name, g.requests, g.avg_latency_ms) for g in models]
    assert rows == [("a", 2, 200), ("b", 1, 100)]
    only_b = await data.by_model(engine, data.UsageFilter(DAY, DAY, model="b"))
    assert [g.name for g in only_b] == ["b"]
    assert await data.models_used(engine, "key_b") == ["b"]
    assert await data.models_used(engine, None) == ["a", "b"]


async def test_recent_requests_pages_and_scopes(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    await _insert(engine, [_row(i, now, key_id="key_a" if i % 2 else "key_b") for i in range(7)])
    first, cursor = await data.recent_requests(engine, None, limit=3)
    assert [r.request_id for r in first] == ["req_6", "req_5", "req_4"] and cursor is not None
    second, _ = await data.recent_requests(engine, None, limit=3, before=cursor)
    assert [r.request_id for r in second] == ["req_3", "req_2", "req_1"]
    mine, last = await data.recent_requests(engine, "key_a", limit=10)
    assert {r.key_id for r in mine} == {"key_a"} and len(mine) == 3 and last is None


async def test_images_for_requests_by_request_id_key_and_expiry(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    files = FileService(engine, LocalBlobStore(tmp_path), b"secret")
    a1 = await files.store(b"\x89PNG a", ImageFormat.PNG, "key_a", 3600, "req_1")
    a2 = await files.store(b"\x89PNG b", ImageFormat.PNG, "key_a", 3600, "req_1")
    await files.store(b"\x89PNG c", ImageFormat.PNG, "key_b", 3600, "req_2")
    await files.store(b"\x89PNG d", ImageFormat.PNG, "key_a", 1, "req_3")
    await files.store(b"\x89PNG e", ImageFormat.PNG, "key_a", 3600)  # no request
    later = datetime.now(UTC) + timedelta(seconds=5)
    found = await data.images_for_requests(engine, ["req_1", "req_2", "req_3"], None, later)
    assert [i.file_id for i in found["req_1"]] == [a1.id, a2.id]
    assert "req_3" not in found and "req_2" in found
    scoped = await data.images_for_requests(engine, ["req_1", "req_2"], "key_a", later)
    assert set(scoped) == {"req_1"}
    assert await data.images_for_requests(engine, [], None, later) == {}


async def test_deployment_stats_error_rate_and_p95(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    rows = [_row(i, now, latency_ms=10 * (i + 1)) for i in range(20)]
    rows += [_row(100, now, deployment="up/x", status=502), _row(101, now, deployment="up/x")]
    rows += [_row(102, now - timedelta(hours=3), deployment="old/y")]
    rows += [_row(103, now, deployment=None, status=401)]
    await _insert(engine, rows)
    stats = await data.deployment_stats(engine, now - timedelta(hours=1))
    assert set(stats) == {"sandbox/sandbox-image", "up/x"}
    sandbox = stats["sandbox/sandbox-image"]
    assert (sandbox.requests, sandbox.errors, sandbox.p95_latency_ms) == (20, 0, 190)
    assert sandbox.avg_latency_ms == 105
    assert stats["up/x"].error_rate == 0.5


def _task(n: int, key_id: str, when: datetime, **over: Any) -> dict[str, Any]:
    row = {
        "id": f"task_{n}",
        "key_id": key_id,
        "origin": "v1",
        "family": None,
        "model": "sandbox-image",
        "request": "{}",
        "state": "queued",
        "progress": None,
        "result": None,
        "attempts": 0,
        "polls": 0,
        "fetch_failures": 0,
        "next_poll_at": when,
        "deadline": when + timedelta(hours=1),
        "callback_attempts": 0,
        "base_url": "http://gw",
        "created_at": when,
        "updated_at": when,
    }
    return row | over


async def test_tasks_newest_first_scoped_by_key_and_model(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    result = TaskResult((TaskImage("img_1", "image/png", int(now.timestamp()) + 60),)).dumps()
    rows = [_task(i, "key_a" if i % 2 else "key_b", now + timedelta(seconds=i)) for i in range(5)]
    rows[3] |= {"state": "running", "progress": 40, "model": "mj", "family": "midjourney"}
    rows[1] |= {"state": "completed", "result": result}
    async with engine.begin() as conn:
        await conn.execute(insert(tasks), rows)
    newest = await data_tasks.recent_tasks(engine, None, limit=3)
    assert [t.id for t in newest] == ["task_4", "task_3", "task_2"]
    mine = await data_tasks.recent_tasks(engine, "key_a")
    assert [t.id for t in mine] == ["task_3", "task_1"]
    assert (mine[0].state, mine[0].progress, mine[0].family) == (
        TaskState.RUNNING,
        40,
        "midjourney",
    )
    assert not mine[0].final and mine[1].final and mine[1].images[0].file_id == "img_1"
    assert mine[0].created_at.tzinfo is not None
    assert [t.id for t in await data_tasks.recent_tasks(engine, None, "mj")] == ["task_3"]
    asked = ["task_0", "task_1", "task_3", "task_nope", "task_1"]
    assert [t.id for t in await data_tasks.tasks_by_id(engine, asked, "key_a")] == [
        "task_3",
        "task_1",
    ]
    assert len(await data_tasks.tasks_by_id(engine, asked, None)) == 3
    assert await data_tasks.tasks_by_id(engine, [], None) == []


async def test_task_money_held_while_running_committed_when_finished(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(tasks),
            [
                _task(1, "key_a", now, state="running"),
                _task(2, "key_a", now, state="completed"),
                _task(3, "key_b", now, state="failed"),
                _task(4, "key_b", now),  # unpriced: nothing held
            ],
        )
        await ledger.credit(conn, "key_a", 10_000, "c")
        for task_id in ("task_1", "task_2"):
            await ledger.reserve(conn, ledger.Account("key_a"), task_id, 3_000)
        await ledger.reserve(conn, ledger.Account("key_b", unlimited=True), "task_3", 2_000)
    later = now + timedelta(seconds=5)
    await _insert(
        engine,
        [
            _row(1, later, request_id="task_2", cost=1_000, dialect="task"),
            _row(2, later, request_id="task_3", key_id="key_b", cost=0, status=502),
            _row(3, now - timedelta(days=1), request_id="task_1", cost=99),  # not this task's
        ],
    )
    rows = await data_tasks.recent_tasks(engine, None)
    money = await data_tasks.task_money(engine, rows)
    assert money == {
        "task_1": data_tasks.TaskMoney(held=3_000, cost=None),
        "task_2": data_tasks.TaskMoney(held=3_000, cost=1_000),
        "task_3": data_tasks.TaskMoney(held=2_000, cost=0),
        "task_4": data_tasks.TaskMoney(),
    }
    assert await data_tasks.task_money(engine, []) == {}


async def test_balances_and_request_cost(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await ledger.credit(conn, "key_a", 5_000, "a")
        await ledger.credit(conn, "key_b", 7_000, "b")
    assert await data.balances(engine, None) == {"key_a": 5_000, "key_b": 7_000}
    assert await data.balances(engine, "key_b") == {"key_b": 7_000}
    now = datetime.now(UTC)
    await _insert(engine, [_row(1, now, cost=1_500)])
    since = now - timedelta(minutes=1)
    assert await data.request_cost(engine, "req_1", "key_a", since) == 1_500
    assert await data.request_cost(engine, "req_1", "key_b", since) is None
    assert await data.request_cost(engine, "req_2", "key_a", since) is None
