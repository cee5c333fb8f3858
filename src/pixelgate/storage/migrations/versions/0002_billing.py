"""Billing: key limits, the append-only ledger, balance and spend counters, priced usage rows.

Keys that existed before this revision become unlimited (they were, in effect), enabled and
in the `default` group; new keys get what their creator says.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _key_columns() -> tuple[sa.Column[Any], ...]:
    return (
        sa.Column("unlimited", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("daily_limit", sa.BigInteger, nullable=True),
        sa.Column("monthly_limit", sa.BigInteger, nullable=True),
        sa.Column("allowed_models", sa.JSON, nullable=True),
        sa.Column("allowed_ips", sa.JSON, nullable=True),
        sa.Column("rpm_limit", sa.Integer, nullable=True),
        sa.Column("concurrency_limit", sa.Integer, nullable=True),
        sa.Column("group_name", sa.String(64), nullable=False, server_default="default"),
    )


def _usage_columns() -> tuple[sa.Column[Any], ...]:
    return (
        sa.Column("cost", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("price_mode", sa.String(32), nullable=True),
        sa.Column("price_tier", sa.String(16), nullable=True),
        sa.Column("price_quality", sa.String(32), nullable=True),
        sa.Column("text_input_tokens", sa.Integer, nullable=True),
        sa.Column("image_input_tokens", sa.Integer, nullable=True),
        sa.Column("image_output_tokens", sa.Integer, nullable=True),
        sa.Column("text_output_tokens", sa.Integer, nullable=True),
        sa.Column("price_detail", sa.JSON, nullable=True),
    )


def upgrade() -> None:
    for column in _key_columns():
        op.add_column("api_keys", column)
    for column in _usage_columns():
        op.add_column("usage_log", column)
    op.create_index("ix_usage_log_created", "usage_log", ["created_at"])
    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("reservation_id", sa.String(80), nullable=True),
        sa.Column("metered", sa.Boolean, nullable=False),
        sa.Column("day", sa.String(10), nullable=True),
        sa.Column("month", sa.String(7), nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name="ck_ledger_amount_nonnegative"),
    )
    op.create_index("ix_ledger_key_kind", "ledger_entries", ["key_id", "kind"])
    op.create_index("ix_ledger_reservation", "ledger_entries", ["reservation_id"])
    op.create_table(
        "key_balances",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.CheckConstraint("available >= 0", name="ck_key_balance_nonnegative"),
    )
    op.create_table(
        "key_spend",
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("used", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_spend")
    op.drop_table("key_balances")
    op.drop_table("ledger_entries")
    op.drop_index("ix_usage_log_created", "usage_log")
    with op.batch_alter_table("usage_log") as batch:
        for column in _usage_columns():
            batch.drop_column(column.name)
    with op.batch_alter_table("api_keys") as batch:
        for column in _key_columns():
            batch.drop_column(column.name)
