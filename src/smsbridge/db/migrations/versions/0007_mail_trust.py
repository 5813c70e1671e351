"""mail: retries recognised, the SMS an email became, delivery confirmations

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("helo", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_inbound_emails_dedupe_key"), ["dedupe_key"], unique=True
        )
    with op.batch_alter_table("reply_numbers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivery_confirmations", sa.Boolean(), server_default="0", nullable=False)
        )
    op.create_table(
        "inbound_email_messages",
        sa.Column("inbound_email_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("notified_status", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint(
            "inbound_email_id", "message_id", name=op.f("pk_inbound_email_messages")
        ),
    )
    with op.batch_alter_table("inbound_email_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_email_messages_message_id"), ["message_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_email_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_email_messages_message_id"))
    op.drop_table("inbound_email_messages")
    with op.batch_alter_table("reply_numbers", schema=None) as batch_op:
        batch_op.drop_column("delivery_confirmations")
    with op.batch_alter_table("inbound_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_emails_dedupe_key"))
        batch_op.drop_column("helo")
        batch_op.drop_column("dedupe_key")
