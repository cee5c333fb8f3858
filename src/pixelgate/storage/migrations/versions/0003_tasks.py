"""Durable tasks: one row per async or long-running image job.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("family", sa.String(20), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("deployment", sa.String(200), nullable=True),
        sa.Column("credential_index", sa.Integer, nullable=True),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=True),
        sa.Column("upstream_id", sa.String(200), nullable=True),
        sa.Column("upstream_meta", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("polls", sa.Integer, nullable=False),
        sa.Column("fetch_failures", sa.Integer, nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error_type", sa.String(80), nullable=True),
        sa.Column("error_code", sa.String(80), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("callback_state", sa.String(16), nullable=True),
        sa.Column("callback_attempts", sa.Integer, nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tasks_due", "tasks", ["state", "next_poll_at"])
    op.create_index("ix_tasks_callback", "tasks", ["callback_state", "next_poll_at"])
    op.create_index("ix_tasks_key_created", "tasks", ["key_id", "created_at"])


def downgrade() -> None:
    op.drop_table("tasks")
