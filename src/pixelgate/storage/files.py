"""Stored images and their signed, expiring links (`GET /v1/files/{id}?exp=&sig=`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pixelgate.core.models import ImageFormat
from pixelgate.storage.blobs import BlobStore, Presigner
from pixelgate.storage.group_commit import GroupCommit
from pixelgate.storage.tables import files

__all__ = ["FileService", "StoredFile"]


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    blob_key: str
    content_type: str
    size_bytes: int
    expires_at: datetime


class FileService:
    def __init__(self, engine: AsyncEngine, blobs: BlobStore, secret: bytes) -> None:
        self.engine = engine
        self.blobs = blobs
        self._secret = secret
        self._rows = GroupCommit(engine, files)

    def sign(self, file_id: str, exp: int) -> str:
        mac = hmac.new(self._secret, f"{file_id}.{exp}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")

    def verify(self, file_id: str, exp: int, sig: str, now: float) -> bool:
        return hmac.compare_digest(self.sign(file_id, exp), sig) and exp >= now

    def signed_path(self, file_id: str, exp: int) -> str:
        return f"/v1/files/{file_id}?exp={exp}&sig={self.sign(file_id, exp)}"

    async def link(self, stored: StoredFile, base_url: str) -> str:
        """The URL a client gets: the store's presigned URL when it is configured to give
        them (S3 with PIXELGATE_S3_LINKS=presigned), else the gateway's signed link."""
        if isinstance(self.blobs, Presigner) and self.blobs.presigned_links:
            return await self.blobs.presign(stored.blob_key, stored.expires_at - datetime.now(UTC))
        exp = int(stored.expires_at.timestamp())
        return base_url + self.signed_path(stored.id, exp)

    async def store(
        self,
        data: bytes,
        fmt: ImageFormat,
        key_id: str | None,
        ttl_seconds: int,
        request_id: str | None = None,
    ) -> StoredFile:
        """Write the blob, then its row; if the row fails the blob is removed again.
        `request_id` links the file to its usage-log row (the console's thumbnails)."""
        now = datetime.now(UTC)
        file_id = "img_" + secrets.token_hex(12)
        blob_key = f"{file_id[4:6]}/{file_id}.{fmt.value}"
        stored = StoredFile(
            file_id, blob_key, fmt.mime, len(data), now + timedelta(seconds=ttl_seconds)
        )
        await self.blobs.put(blob_key, data, fmt.mime)
        try:
            # Group-committed: concurrent url answers share one write transaction.
            await self._rows.insert(
                {
                    "id": file_id,
                    "key_id": key_id,
                    "request_id": request_id,
                    "blob_key": blob_key,
                    "content_type": fmt.mime,
                    "size_bytes": len(data),
                    "width": None,
                    "height": None,
                    "created_at": now,
                    "expires_at": stored.expires_at,
                }
            )
        except BaseException:
            await self.blobs.delete(blob_key)
            raise
        return stored

    async def aclose(self) -> None:
        """Wait for file rows still being written."""
        await self._rows.aclose()

    async def get(self, file_id: str) -> StoredFile | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        files.c.id,
                        files.c.blob_key,
                        files.c.content_type,
                        files.c.size_bytes,
                        files.c.expires_at,
                    ).where(files.c.id == file_id)
                )
            ).first()
        if row is None:
            return None
        return StoredFile(row.id, row.blob_key, row.content_type, row.size_bytes, row.expires_at)

    async def purge_expired(self, now: datetime | None = None, batch: int = 500) -> int:
        """Delete expired files (blob first, then row); returns how many were removed."""
        now = now or datetime.now(UTC)
        removed = 0
        while True:
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(files.c.id, files.c.blob_key)
                        .where(files.c.expires_at < now)
                        .limit(batch)
                    )
                ).all()
            if not rows:
                return removed
            for row in rows:
                await self.blobs.delete(row.blob_key)
            async with self.engine.begin() as conn:
                await conn.execute(delete(files).where(files.c.id.in_([r.id for r in rows])))
            removed += len(rows)
