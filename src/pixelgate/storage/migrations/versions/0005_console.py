"""The console's gallery: which request stored each file (`files.request_id`).

Revision ID: 0005
Revises: 0004

Chained to 0004, the head of this branch; the merge with the billing and tasks migrations
(0002, 0003) relinks the chain.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("request_id", sa.String(40), nullable=True))
        batch.create_index("ix_files_request_id", ["request_id"])


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_index("ix_files_request_id")
        batch.drop_column("request_id")
