"""Listing every key's tasks newest first (the admin's Requests and tasks page in the
console) without sorting the whole table; one key's tasks already have ix_tasks_key_created.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_created", "tasks", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_created", "tasks")
