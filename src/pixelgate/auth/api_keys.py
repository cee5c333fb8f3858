"""Client API keys: stored only as SHA-256 hashes, shown once at creation, revocable.

Keys are 256-bit random tokens, so a plain SHA-256 is a safe one-way hash; lookups go by
hash through a unique index, so no comparison of secrets happens in Python. Each key carries
its limits (`auth.limits.KeyLimits`); a key and its opening credit are created in one
transaction, so a key never exists without the balance it was created with.

A successful lookup may be remembered for `cache_ttl` seconds (PIXELGATE_KEY_CACHE_SECONDS,
0 — off — by default), so a burst of requests on one key costs one query per
key and window instead of one each. A key revoked or changed through this process is
dropped from its cache at once. Other processes learn of it through the `broadcast`: with
Redis (PIXELGATE_REDIS_URL) every process has dropped the key before the revoking call
returns (`scale.redis_broadcast`); without Redis, or while it is down, they trust their
entry for at most `cache_ttl` seconds more (and limit changes take as long to show). Off
by default, so a revocation anywhere is refused at once. Unknown and revoked keys are never
cached, so a new key works at once and guessing fills nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.auth.limits import KeyLimits
from pixelgate.billing import ledger
from pixelgate.scale.broadcast import Broadcast, NullBroadcast, Topic
from pixelgate.storage.tables import api_keys

__all__ = ["ApiKeyService", "CreatedKey", "KeyInfo", "Principal", "extract_key"]

KEY_PREFIX = "pg-"
# Enough for every active key of a large deployment; the oldest entry goes first.
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    limits: KeyLimits = field(default_factory=KeyLimits)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    limits: KeyLimits = field(default_factory=KeyLimits)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    info: KeyInfo
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def extract_key(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str | None:
    """The client key from `Authorization: Bearer`, `X-API-Key` / `x-goog-api-key` (as the
    google-genai SDK sends it) or (optionally) `?key=`."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key") or headers.get("x-goog-api-key")
    if key:
        return key.strip()
    if query is not None and query.get("key"):
        return query["key"]
    return None


class ApiKeyService:
    def __init__(
        self, engine: AsyncEngine, cache_ttl: float = 0.0, broadcast: Broadcast | None = None
    ) -> None:
        self.engine = engine
        self.cache_ttl = cache_ttl
        self.broadcast = broadcast or NullBroadcast()
        # key hash -> (principal, monotonic time it stops being trusted)
        self._cache: dict[str, tuple[Principal, float]] = {}
        # Bumped by every drop: a lookup that read its row before a revocation and finishes
        # after the drop must not put the revoked key back in the cache.
        self._epoch = 0

    async def create(
        self, name: str, limits: KeyLimits | None = None, credit: int = 0
    ) -> CreatedKey:
        """A new key; `limits` default to unlimited, `credit` micro-units open its balance."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        info = KeyInfo(
            id="key_" + secrets.token_hex(8),
            name=name,
            prefix=secret[:10],
            created_at=datetime.now(UTC),
            revoked_at=None,
            limits=limits or KeyLimits(),
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    id=info.id,
                    name=name,
                    key_hash=hash_key(secret),
                    prefix=info.prefix,
                    created_at=info.created_at,
                    **info.limits.to_row(),
                )
            )
            await ledger.open_balance(conn, info.id)
            if credit > 0:
                await ledger.credit(conn, info.id, credit, f"{info.id}:opening", "opening balance")
        return CreatedKey(info, secret)

    async def authenticate(self, secret: str) -> Principal | None:
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None:
            if cached[1] > now:
                return cached[0]
            del self._cache[digest]
        epoch = self._epoch
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(api_keys).where(
                        api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        if row is None:
            return None
        principal = Principal(row.id, row.name, KeyLimits.from_row(row))
        if self.cache_ttl > 0 and epoch == self._epoch:
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                del self._cache[next(iter(self._cache))]
            self._cache[digest] = (principal, now + self.cache_ttl)
        return principal

    @staticmethod
    def _info(r: Row[Any]) -> KeyInfo:
        return KeyInfo(r.id, r.name, r.prefix, r.created_at, r.revoked_at, KeyLimits.from_row(r))

    async def principal(self, key_id: str) -> Principal | None:
        """The principal of an active key, by id: for callers already authenticated some other
        way (the console acts for a key it has verified, without holding its secret)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                )
            ).first()
        # With its limits, exactly as `authenticate` gives them: acting for a key must not
        # lift its balance, allow-lists or rate limits.
        return Principal(row.id, row.name, KeyLimits.from_row(row)) if row else None

    async def list(self) -> list[KeyInfo]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
        return [self._info(r) for r in rows]

    async def get(self, key_id: str) -> KeyInfo | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return self._info(row) if row else None

    async def update(self, key_id: str, limits: KeyLimits, name: str | None = None) -> bool:
        """Replace an active key's limits (and name); False if no active key has this id."""
        values = limits.to_row()
        if name is not None:
            values["name"] = name
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(**values)
            )
        await self._changed(key_id)
        return bool(result.rowcount)

    async def revoke(self, key_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        await self._changed(key_id)
        return bool(result.rowcount)

    async def _changed(self, key_id: str) -> None:
        """The key's row changed (or is gone): drop it here, then in every other process;
        even when no row changed, since a cache may still hold a key revoked elsewhere."""
        self.forget(key_id)
        await self.broadcast.publish_and_confirm(Topic.KEY_CHANGED, key_id)

    def forget(self, key_id: str) -> None:
        """Drop a key from this process's cache (it was revoked or changed)."""
        self._epoch += 1
        for digest, (principal, _) in list(self._cache.items()):
            if principal.key_id == key_id:
                del self._cache[digest]

    def forget_all(self) -> None:
        """Empty this process's cache (when news of changes may have been missed)."""
        self._epoch += 1
        self._cache.clear()

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(api_keys))).scalar_one()
            )
