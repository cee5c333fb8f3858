"""Table definitions (SQLAlchemy Core). Migrations in `migrations/versions` create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["api_keys", "files", "idempotency_keys", "metadata", "usage_log"]

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(40), nullable=True),
    Column("blob_key", String(200), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # The request that produced the file (migration 0005): the console's gallery joins on it.
    Column("request_id", String(40), nullable=True),
    Index("ix_files_expires_at", "expires_at"),
    Index("ix_files_request_id", "request_id"),
)

usage_log = Table(
    "usage_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("request_id", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(40), nullable=True),
    Column("dialect", String(40), nullable=False),
    Column("endpoint", String(200), nullable=False),
    Column("model", String(200), nullable=True),
    Column("deployment", String(200), nullable=True),
    Column("operation", String(40), nullable=True),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("images", Integer, nullable=False, default=0),
    Column("bytes", BigInteger, nullable=False, default=0),
    Column("error_code", String(80), nullable=True),
    Column("prompt_preview", String(120), nullable=True),
    Index("ix_usage_log_key_created", "key_id", "created_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("idem_key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
