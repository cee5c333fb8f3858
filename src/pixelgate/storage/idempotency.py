"""`Idempotency-Key` records: one row per (client key, idempotency key).

The first request inserts a `running` row (the primary key makes the insert the lock);
a repeat with the same body waits for it and replays its answer; a repeat with another
body is refused. Answers are stored as the rendered JSON with every base64 image replaced
by a reference to a stored file — image data never goes into the database. Failed first
attempts are forgotten, so the client may retry them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.core.models import ImageRequest
from pixelgate.storage.tables import idempotency_keys

__all__ = ["Claim", "ClaimState", "IdempotencyStore", "fingerprint"]

TTL = timedelta(hours=24)


class ClaimState(StrEnum):
    NEW = "new"
    RUNNING = "running"
    DONE = "done"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Claim:
    state: ClaimState
    status: int | None = None
    body: dict[str, Any] | None = None


def fingerprint(endpoint: str, req: ImageRequest) -> str:
    """Identity of a request body: its fields plus the digest of every uploaded image."""
    h = hashlib.sha256(endpoint.encode())
    h.update(orjson.dumps(req.native, option=orjson.OPT_SORT_KEYS, default=str))
    for item in (*req.images, *((req.mask,) if req.mask else ())):
        h.update(hashlib.sha256(item.data).digest() if item.data else (item.url or "").encode())
    return h.hexdigest()


class IdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim(self, key_id: str, idem_key: str, digest: str) -> Claim:
        now = datetime.now(UTC)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    delete(idempotency_keys).where(
                        idempotency_keys.c.key_id == key_id,
                        idempotency_keys.c.idem_key == idem_key,
                        idempotency_keys.c.expires_at < now,
                    )
                )
                await conn.execute(
                    insert(idempotency_keys).values(
                        key_id=key_id,
                        idem_key=idem_key,
                        fingerprint=digest,
                        state=ClaimState.RUNNING.value,
                        created_at=now,
                        expires_at=now + TTL,
                    )
                )
            return Claim(ClaimState.NEW)
        except IntegrityError:
            return await self.look(key_id, idem_key, digest)

    async def look(self, key_id: str, idem_key: str, digest: str) -> Claim:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.key_id == key_id,
                        idempotency_keys.c.idem_key == idem_key,
                    )
                )
            ).first()
        if row is None:
            return Claim(ClaimState.NEW)  # the first attempt failed and was forgotten
        if row.fingerprint != digest:
            return Claim(ClaimState.CONFLICT)
        if row.state == ClaimState.DONE.value:
            return Claim(ClaimState.DONE, row.status_code, orjson.loads(row.response))
        return Claim(ClaimState.RUNNING)

    async def complete(self, key_id: str, idem_key: str, status: int, body: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.key_id == key_id, idempotency_keys.c.idem_key == idem_key)
                .values(
                    state=ClaimState.DONE.value,
                    status_code=status,
                    response=orjson.dumps(body).decode(),
                )
            )

    async def forget(self, key_id: str, idem_key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.key_id == key_id, idempotency_keys.c.idem_key == idem_key
                )
            )
