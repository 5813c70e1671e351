"""flash messages

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("messages", "sim_submissions"):
        op.add_column(table, sa.Column("flash", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in ("messages", "sim_submissions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("flash")
