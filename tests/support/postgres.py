"""Fresh PostgreSQL databases on the test machine's server (127.0.0.1:5432, trust auth).

The admin connection comes from PIXELGATE_TEST_PG_DSN (default: user postgres, database
test). Tests that need PostgreSQL fail, rather than skip, when it cannot be reached.
"""

from __future__ import annotations

import asyncio
import os
import secrets

import asyncpg

ADMIN_DSN = os.environ.get("PIXELGATE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _exec(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database() -> str:
    """Create an empty database and return its SQLAlchemy asyncpg URL."""
    name = "pixelgate_t_" + secrets.token_hex(6)
    asyncio.run(_exec(f'CREATE DATABASE "{name}"'))
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
