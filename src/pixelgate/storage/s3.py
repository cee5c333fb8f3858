"""S3-compatible object storage for image bytes (AWS S3, MinIO, Ceph, R2, GCS's S3 API…).

Selected with `PIXELGATE_BLOB_STORE=s3`; configured by the PIXELGATE_S3_* variables of
`S3Settings` (unset credentials fall back to the standard AWS_* variables and instance
credentials, through obstore). Talks to the server with obstore — Rust, async, one small
wheel with no dependencies — rather than aioboto3, which drags in botocore (tens of MB,
slow imports) for the three calls a blob store needs.

Links to stored images are either the gateway's own signed `/v1/files/{id}` links
(`PIXELGATE_S3_LINKS=gateway`, the default: the bucket stays private and the gateway
serves the bytes) or S3 presigned GET URLs (`presigned`: clients fetch from the bucket
directly, so image downloads cost the gateway nothing; the endpoint must then be reachable
by clients).

Example: with `PIXELGATE_S3_BUCKET=images`, blob key `3f/img_3f….png` is stored as
`s3://images/<prefix>3f/img_3f….png` with its Content-Type.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import obstore
from obstore.store import S3Store
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pixelgate.settings import ConfigError

__all__ = ["MAX_PRESIGN", "S3BlobStore", "S3Settings"]

# SigV4 presigned URLs live at most 7 days.
MAX_PRESIGN = timedelta(days=7)


class S3Settings(BaseSettings):
    """Every field can be set as PIXELGATE_S3_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="PIXELGATE_S3_", extra="ignore")

    bucket: str = ""
    # e.g. http://minio:9000; unset means AWS itself (https://s3.<region>.amazonaws.com).
    endpoint: str | None = None
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    # Keys are stored under this prefix inside the bucket, e.g. "pixelgate/".
    prefix: str = ""
    # bucket.host/key (AWS) instead of host/bucket/key (most self-hosted servers).
    virtual_hosted: bool = False
    links: Literal["gateway", "presigned"] = "gateway"


class S3BlobStore:
    """The BlobStore protocol (storage/blobs.py) on an S3 bucket, plus presigned links."""

    def __init__(self, settings: S3Settings) -> None:
        if not settings.bucket:
            raise ConfigError("PIXELGATE_S3_BUCKET is required when PIXELGATE_BLOB_STORE=s3")
        config: dict[str, Any] = {
            "region": settings.region,
            "virtual_hosted_style_request": settings.virtual_hosted,
        }
        if settings.endpoint:
            config["endpoint"] = settings.endpoint.rstrip("/")
        for name in ("access_key_id", "secret_access_key", "session_token"):
            secret: SecretStr | None = getattr(settings, name)
            if secret is not None:
                config[name] = secret.get_secret_value()
        allow_http = bool(settings.endpoint and settings.endpoint.startswith("http://"))
        self.settings = settings
        self.presigned_links = settings.links == "presigned"
        self.store = S3Store(
            settings.bucket,
            prefix=settings.prefix or None,
            config=config,  # type: ignore[arg-type]  # a dict of S3Config keys
            client_options={"allow_http": allow_http},
        )

    def local_path(self, key: str) -> Path | None:
        return None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await obstore.put_async(self.store, key, data, attributes={"Content-Type": content_type})

    async def get(self, key: str) -> bytes | None:
        try:
            result = await obstore.get_async(self.store, key)
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing object succeeds, as on S3 itself."""
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.store, key)

    async def presign(self, key: str, expires_in: timedelta) -> str:
        """A presigned GET URL, valid for `expires_in` (at most 7 days)."""
        return await obstore.sign_async(self.store, "GET", key, min(expires_in, MAX_PRESIGN))
