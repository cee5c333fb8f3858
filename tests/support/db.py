"""Read the gateway's tables from tests (through the same async engine the gateway uses)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from pixelgate.settings import Settings
from pixelgate.storage.db import create_engine
from pixelgate.storage.tables import files, usage_log
from tests.support.gateway import Gateway


def _url(gw: Gateway) -> str:
    settings = Settings(
        data_dir=gw.env["PIXELGATE_DATA_DIR"], database_url=gw.env.get("PIXELGATE_DATABASE_URL")
    )
    return settings.effective_database_url


async def _query(url: str, stmt: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(stmt)).all())
    finally:
        await engine.dispose()


def usage_rows(gw: Gateway) -> list[Any]:
    return asyncio.run(_query(_url(gw), select(usage_log).order_by(usage_log.c.id)))


def last_usage(gw: Gateway) -> Any:
    return usage_rows(gw)[-1]


def file_count(gw: Gateway) -> int:
    return int(asyncio.run(_query(_url(gw), select(func.count()).select_from(files)))[0][0])
