"""Client API keys: stored only as SHA-256 hashes, shown once at creation, revocable.

Keys are 256-bit random tokens, so a plain SHA-256 is a safe one-way hash; lookups go by
hash through a unique index, so no comparison of secrets happens in Python.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.storage.tables import api_keys

__all__ = ["ApiKeyService", "CreatedKey", "KeyInfo", "Principal", "extract_key"]

KEY_PREFIX = "pg-"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    info: KeyInfo
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def extract_key(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str | None:
    """The client key from `Authorization: Bearer`, `X-API-Key` or (optionally) `?key=`."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    if query is not None and query.get("key"):
        return query["key"]
    return None


class ApiKeyService:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, name: str) -> CreatedKey:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        info = KeyInfo(
            id="key_" + secrets.token_hex(8),
            name=name,
            prefix=secret[:10],
            created_at=datetime.now(UTC),
            revoked_at=None,
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    id=info.id,
                    name=name,
                    key_hash=hash_key(secret),
                    prefix=info.prefix,
                    created_at=info.created_at,
                )
            )
        return CreatedKey(info, secret)

    async def authenticate(self, secret: str) -> Principal | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(api_keys.c.id, api_keys.c.name).where(
                        api_keys.c.key_hash == hash_key(secret), api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        return Principal(row.id, row.name) if row else None

    async def principal(self, key_id: str) -> Principal | None:
        """The principal of an active key, by id: for callers already authenticated some other
        way (the console acts for a key it has verified, without holding its secret)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(api_keys.c.id, api_keys.c.name).where(
                        api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        return Principal(row.id, row.name) if row else None

    async def list(self) -> list[KeyInfo]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        api_keys.c.id,
                        api_keys.c.name,
                        api_keys.c.prefix,
                        api_keys.c.created_at,
                        api_keys.c.revoked_at,
                    ).order_by(api_keys.c.created_at)
                )
            ).all()
        return [KeyInfo(r.id, r.name, r.prefix, r.created_at, r.revoked_at) for r in rows]

    async def revoke(self, key_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(api_keys))).scalar_one()
            )
