"""Table definitions (SQLAlchemy Core). Migrations in `migrations/versions` create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    true,
)

__all__ = [
    "api_keys",
    "files",
    "idempotency_keys",
    "key_balances",
    "key_spend",
    "ledger_entries",
    "metadata",
    "tasks",
    "usage_log",
]

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
    # 0002 billing: limits and policy (money in micro-units, see billing/ledger.py).
    Column("unlimited", Boolean, nullable=False, server_default=true()),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("daily_limit", BigInteger, nullable=True),
    Column("monthly_limit", BigInteger, nullable=True),
    Column("allowed_models", JSON, nullable=True),
    Column("allowed_ips", JSON, nullable=True),
    Column("rpm_limit", Integer, nullable=True),
    Column("concurrency_limit", Integer, nullable=True),
    Column("group_name", String(64), nullable=False, server_default="default"),
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
    # 0002 billing: what the request cost and the price inputs that explain it.
    Column("cost", BigInteger, nullable=False, server_default="0"),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("price_mode", String(32), nullable=True),
    Column("price_tier", String(16), nullable=True),
    Column("price_quality", String(32), nullable=True),
    Column("text_input_tokens", Integer, nullable=True),
    Column("image_input_tokens", Integer, nullable=True),
    Column("image_output_tokens", Integer, nullable=True),
    Column("text_output_tokens", Integer, nullable=True),
    Column("price_detail", JSON, nullable=True),
    Index("ix_usage_log_key_created", "key_id", "created_at"),
    Index("ix_usage_log_created", "created_at"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("key_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("reservation_id", String(80), nullable=True),
    Column("metered", Boolean, nullable=False),
    Column("day", String(10), nullable=True),
    Column("month", String(7), nullable=True),
    Column("note", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount >= 0", name="ck_ledger_amount_nonnegative"),
    Index("ix_ledger_key_kind", "key_id", "kind"),
    Index("ix_ledger_reservation", "reservation_id"),
)

key_balances = Table(
    "key_balances",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("available", BigInteger, nullable=False),
    CheckConstraint("available >= 0", name="ck_key_balance_nonnegative"),
)

key_spend = Table(
    "key_spend",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("used", BigInteger, nullable=False),
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

# Durable tasks (migration 0003). `request` is the canonical request as JSON with every image
# moved to the blob store (never base64 in a row); state changes are compare-and-swap on
# `state` (and on `lease_owner` for the worker holding the task).
tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_id", String(40), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("family", String(20), nullable=True),
    Column("model", String(200), nullable=False),
    Column("deployment", String(200), nullable=True),
    Column("credential_index", Integer, nullable=True),
    Column("request", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("progress", Integer, nullable=True),
    Column("upstream_id", String(200), nullable=True),
    Column("upstream_meta", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("polls", Integer, nullable=False),
    Column("fetch_failures", Integer, nullable=False),
    Column("next_poll_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("result", Text, nullable=True),
    Column("error_type", String(80), nullable=True),
    Column("error_code", String(80), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("callback_url", Text, nullable=True),
    Column("callback_state", String(16), nullable=True),
    Column("callback_attempts", Integer, nullable=False),
    Column("base_url", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_tasks_due", "state", "next_poll_at"),
    Index("ix_tasks_callback", "callback_state", "next_poll_at"),
    Index("ix_tasks_created", "created_at"),
    Index("ix_tasks_key_created", "key_id", "created_at"),
)
