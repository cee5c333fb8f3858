"""Blob stores for image bytes: a local directory by default, S3-compatible storage at
scale (storage/s3.py, PIXELGATE_BLOB_STORE=s3)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["BlobStore", "LocalBlobStore", "Presigner"]


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """A path the web server may stream from directly, when the store is local."""
        ...


@runtime_checkable
class Presigner(Protocol):
    """Optional capability: a store whose objects clients can fetch directly by a
    presigned, expiring URL (S3), instead of through the gateway's `/v1/files` link."""

    presigned_links: bool

    async def presign(self, key: str, expires_in: timedelta) -> str: ...


class LocalBlobStore:
    """Stores each blob as a file under `root`, written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError("blob key escapes the store")
        return path

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)

        await anyio.to_thread.run_sync(write)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await anyio.to_thread.run_sync(read)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))
